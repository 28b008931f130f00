from django.conf import settings
from django.db import models

from apps.core.models import BaseModel


class WebhookEndpoint(BaseModel):
    """Where an integrator receives events. `shop` empty: a platform endpoint (staff), which may
    receive every event; otherwise it receives only events about that shop."""

    class DisabledReason(models.TextChoices):
        NONE = "", "Enabled"
        MANUAL = "manual", "Disabled by its owner or staff"
        GONE = "gone", "The receiver answered 410 Gone"
        FAILING = "failing", "Every delivery failed for a day"

    shop = models.ForeignKey(
        "shops.Shop",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    events = models.JSONField(default=list)  # event types, e.g. ["order.placed"]
    # Standard Webhooks secrets ("whsec_" + base64 of 32 random bytes). The previous one keeps
    # signing until `previous_secret_expires_at` after a rotation.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(
        max_length=16, choices=DisabledReason.choices, blank=True, default=""
    )
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Start of the current run of failed attempts (none since the last success); a day of them
    # disables the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["shop", "enabled"], name="webhook_endpoint_shop"),
        ]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(BaseModel):
    """One event for one endpoint: written when the event is handled (in the relay's
    transaction), then sent and retried until it succeeded or its retry window closed.

    `lock_token`/`locked_until`: who may attempt it now. A queued task carries the token it was
    queued with; an attempt in progress holds a fresh one for the timeout plus a margin. A
    token whose time passed is free to take (its task or sender was lost), so nothing waits
    forever and no two senders attempt one delivery at once. At most
    WEBHOOKS_MAX_IN_FLIGHT_PER_ENDPOINT attempts run at once per endpoint, so one slow receiver
    cannot hold every worker of the queue."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)  # the event envelope, the request body
    request_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()  # no automatic retry after this
    lock_token = models.UUIDField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    # Set while an attempt is under way (until its timeout plus a margin): what the per-endpoint
    # cap on attempts in flight counts.
    sending_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    last_response = models.CharField(max_length=1000, blank=True)  # an excerpt of the body

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_once_per_event"
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhook_delivery_feed"),
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"
