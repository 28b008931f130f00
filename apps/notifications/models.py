from django.conf import settings
from django.db import models

from apps.core.models import BaseModel


class NotificationType(models.TextChoices):
    ORDER_PLACED = "order.placed", "Order placed"
    ORDER_STATUS_CHANGED = "order.status_changed", "Order status changed"
    ORDER_CANCELLED = "order.cancelled", "Order cancelled"
    SHOP_NEW_PRODUCT = "shop.new_product", "New product from a shop you follow"
    SHOP_NEW_DISCOUNT = "shop.new_discount", "New discount from a shop you follow"
    SHOP_FOLLOWED = "shop.followed", "New follower"
    INVENTORY_LOW_STOCK = "inventory.low_stock", "Low stock"
    REVIEW_CREATED = "review.created", "New review"
    COMMENT_REPLY = "comment.reply", "Reply to your comment"
    ANNOUNCEMENT = "announcement", "Announcement"
    WEBHOOK_DISABLED = "webhook.disabled", "Webhook endpoint disabled"


# Marketing-like messages: email is opt-in for these, and their emails carry unsubscribe wording.
PROMOTIONAL_TYPES = frozenset(
    {NotificationType.SHOP_NEW_PRODUCT, NotificationType.SHOP_NEW_DISCOUNT}
)


class Channel(models.TextChoices):
    IN_APP = "in_app", "In-app"
    EMAIL = "email", "Email"


class Notification(BaseModel):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    type = models.CharField(max_length=32, choices=NotificationType.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # The event this notification came from: a redelivered event never notifies twice.
    event_id = models.UUIDField()
    # False when the recipient turned in-app off for this type: the row still dedupes the email.
    in_app = models.BooleanField(default=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "recipient"], name="notification_once_per_event_recipient"
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_feed"),
            models.Index(
                fields=["recipient"],
                name="notification_unread",
                condition=models.Q(read_at=None),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} → {self.recipient_id}"


class NotificationPreference(BaseModel):
    """An explicit choice; absent rows mean the default (on, except promotional email)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    type = models.CharField(max_length=32, choices=NotificationType.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    enabled = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "type", "channel"], name="notification_preference_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.type}/{self.channel}={self.enabled}"


class EmailDelivery(BaseModel):
    """One email per notification: claimed before it is sent, marked sent after
    (`apps.notifications.services.email_claim`), so a retried or concurrent task never sends it
    twice."""

    notification = models.OneToOneField(
        Notification, on_delete=models.CASCADE, related_name="email_delivery"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "email deliveries"

    def __str__(self) -> str:
        return f"email {'sent' if self.sent_at else 'not sent'} after {self.attempts} attempt(s)"


class Announcement(BaseModel):
    """A staff message to every active user, fanned out through the same batched path."""

    title = models.CharField(max_length=200)
    body = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.title
