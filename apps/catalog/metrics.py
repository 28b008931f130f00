"""Catalog cache counters (apps.core.metrics describes how metrics are collected and shown).

Hit ratio: `rate(marketplace_catalog_cache_lookups_total{result="hit"}[5m])` over all results."""

from prometheus_client import Counter

from apps.core.metrics import PREFIX

CACHE_LOOKUPS = Counter(
    f"{PREFIX}_catalog_cache_lookups",
    "Catalog cache lookups by cache (detail, list, categories) and result (hit, miss).",
    ["cache", "result"],
)
