"""Scrape-time metrics of the outbox and the Celery queues (registered in EventsConfig.ready).

- `marketplace_outbox_pending_events`: events not yet delivered by the relay;
  `marketplace_outbox_oldest_pending_age_seconds`: how long the oldest of them has waited (0
  when none does). Together: the relay's lag.
- `marketplace_celery_queue_messages{queue}`: messages ready in every work queue and in its
  `.dlq`, read from the broker (a passive declare each); `marketplace_celery_broker_up` 0 when
  the broker could not be asked. Nothing when tasks run eagerly (no broker).
"""

from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from apps.core.metrics import PREFIX

BROKER_TIMEOUT_SECONDS = 2.0


def outbox_lag() -> Iterator[Metric]:
    from apps.events.relay import pending_events

    stats = pending_events().order_by().aggregate(count=Count("seq"), oldest=Min("occurred_at"))
    oldest = stats["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0
    yield GaugeMetricFamily(
        f"{PREFIX}_outbox_pending_events",
        "Outbox events the relay has not delivered yet.",
        value=stats["count"],
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_outbox_oldest_pending_age_seconds",
        "Age of the oldest undelivered outbox event (0: none pending).",
        value=max(age, 0.0),
    )


def queue_depths() -> Iterator[Metric]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    from kombu import Connection

    from config.celery import DEAD_LETTER_SUFFIX, WORK_QUEUES, physical_queue_name

    depths = GaugeMetricFamily(
        f"{PREFIX}_celery_queue_messages",
        "Messages ready in a Celery queue (work queues and their .dlq), from the broker.",
        labels=["queue"],
    )
    up = 1
    try:
        with Connection(
            settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS
        ) as connection:
            connection.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
            channel = connection.default_channel
            for name in WORK_QUEUES:
                for queue in (name, f"{name}{DEAD_LETTER_SUFFIX}"):
                    physical = physical_queue_name(queue)
                    try:
                        ok = channel.queue_declare(queue=physical, passive=True)
                    except Exception:  # not declared yet: the channel is closed by the broker
                        channel = connection.channel()
                        continue
                    depths.add_metric([queue], ok.message_count)
    except Exception:
        up = 0
    yield depths
    yield GaugeMetricFamily(
        f"{PREFIX}_celery_broker_up", "1 when the broker answered the last scrape.", value=up
    )
