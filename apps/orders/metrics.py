"""Order counters (apps.core.metrics describes how metrics are collected and shown)."""

from prometheus_client import Counter

from apps.core.metrics import PREFIX

ORDERS_PLACED = Counter(
    f"{PREFIX}_orders_placed", "Orders placed (one per shop of a checkout), counted at commit."
)
