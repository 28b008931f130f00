"""Webhook metrics (apps.core.metrics describes how metrics are collected and shown).

- `marketplace_webhook_delivery_attempts_total{outcome}`: attempts by outcome (`succeeded`,
  `http_error`, `gone`, `timeout`, `connection_error`, `refused`, `disabled`);
- `marketplace_webhook_deliveries_pending`: deliveries not finished (the queue's depth);
- `marketplace_webhook_oldest_due_age_seconds`: how long the longest-waiting due delivery has
  waited past its time (0: none is late), read at scrape time.
"""

from collections.abc import Iterator

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from apps.core.metrics import PREFIX

DELIVERY_ATTEMPTS = Counter(
    f"{PREFIX}_webhook_delivery_attempts",
    "Webhook delivery attempts, by outcome.",
    ["outcome"],
)


def delivery_backlog() -> Iterator[Metric]:
    from apps.webhooks.models import WebhookDelivery

    now = timezone.now()
    stats = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).aggregate(
        pending=Count("id"),
        oldest_due=Min("next_attempt_at", filter=Q(next_attempt_at__lte=now)),
    )
    oldest = stats["oldest_due"]
    yield GaugeMetricFamily(
        f"{PREFIX}_webhook_deliveries_pending",
        "Webhook deliveries not yet succeeded or failed.",
        value=stats["pending"],
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_webhook_oldest_due_age_seconds",
        "How long the longest-waiting due webhook delivery is past its time (0: none).",
        value=max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0,
    )
