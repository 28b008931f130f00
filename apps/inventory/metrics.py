"""Stock counters (apps.core.metrics describes how metrics are collected and shown)."""

from prometheus_client import Counter

from apps.core.metrics import PREFIX

STOCK_OUTS = Counter(
    f"{PREFIX}_stock_outs",
    "Variants whose available stock reached zero (a reservation or an adjustment), at commit.",
)
STOCK_REFUSALS = Counter(
    f"{PREFIX}_stock_refusals",
    "Reservations refused for want of stock (409 inventory.insufficient_stock).",
)
