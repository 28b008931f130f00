import uuid

from django.db import models
from django.utils import timezone


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change it describes (transactional outbox).

    `seq` gives the total order of creation that the relay publishes in; `id` is the event_id that
    every consumer dedupes on.
    """

    seq = models.BigAutoField(primary_key=True)
    id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    topic = models.CharField(max_length=64)
    key = models.CharField(max_length=64)
    type = models.CharField(max_length=64, db_index=True)
    version = models.PositiveSmallIntegerField(default=1)
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The work that emitted it: request id and W3C trace context (apps.core.observability), passed
    # on as Kafka headers and to what the subscribers enqueue.
    context = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("seq",)
        indexes = [
            models.Index(
                fields=["seq"], name="outbox_pending_idx", condition=models.Q(published_at=None)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.key}"


class ProcessedEvent(models.Model):
    """Consumer-side dedupe: (consumer, event_id) handled once."""

    consumer = models.CharField(max_length=100)
    event_id = models.UUIDField()
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consumer", "event_id"], name="processed_event_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.consumer} {self.event_id}"


class Lease(models.Model):
    """A named lease (`apps.events.lease.DatabaseLease`): who holds it and until when."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} ({self.holder or 'free'})"


class PendingTask(models.Model):
    """A Celery task to send once the transaction that recorded it commits, kept until the broker
    took it (`apps.events.task_outbox`): the outbox of the work that must go through RabbitMQ."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["next_attempt_at"], name="pending_task_due_idx")]

    def __str__(self) -> str:
        return self.name
