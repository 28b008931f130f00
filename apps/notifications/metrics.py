"""Real-time stream metrics (apps.core.metrics describes how metrics are collected and shown)."""

from prometheus_client import Counter, Gauge

from apps.core.metrics import PREFIX

STREAMS_OPEN = Gauge(
    f"{PREFIX}_notification_streams_open",
    "Server-Sent Events streams open now (summed over live processes).",
    multiprocess_mode="livesum",
)
STREAMS_REFUSED = Counter(
    f"{PREFIX}_notification_streams_refused",
    "Streams refused: too many open for the user (429).",
)
STREAMS_CLOSED = Counter(
    f"{PREFIX}_notification_streams_closed",
    "Streams closed, by reason (client gone, tokens revoked, server shutdown).",
    ["reason"],
)
