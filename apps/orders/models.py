from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import BaseModel

ZERO = Decimal("0.00")


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, default=ZERO, **kwargs)


class Checkout(BaseModel):
    """One placement: the buyer's orders across shops under one checkout number."""

    number = models.CharField(max_length=32, unique=True)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="checkouts"
    )
    currency = models.CharField(max_length=3)
    subtotal = _money()
    discount_total = _money()
    shipping_total = _money()
    total = _money()
    idempotency_key = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            # The database backs the Idempotency-Key middleware: one checkout per buyer and key.
            models.UniqueConstraint(
                fields=["buyer", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="checkout_buyer_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class Order(BaseModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"
        REFUNDED = "refunded", "Refunded"

    class PaymentStatus(models.TextChoices):
        UNPAID = "unpaid", "Unpaid"  # cash on delivery, until delivered
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"  # card, until the payment
        PAID = "paid", "Paid"
        FAILED = "failed", "Payment failed"  # card: the last attempt failed, may be retried
        REFUNDED = "refunded", "Refunded"

    class PaymentMethod(models.TextChoices):
        """Orders handles cash on delivery itself; other methods are registered by a higher app
        (apps.orders.payment_methods)."""

        CASH_ON_DELIVERY = "cash_on_delivery", "Cash on delivery"
        CARD = "card", "Card"

    checkout = models.ForeignKey(Checkout, on_delete=models.PROTECT, related_name="orders")
    number = models.CharField(max_length=40, unique=True)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    shop = models.ForeignKey("shops.Shop", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    payment_method = models.CharField(
        max_length=32, choices=PaymentMethod.choices, default=PaymentMethod.CASH_ON_DELIVERY
    )
    payment_status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    currency = models.CharField(max_length=3)
    subtotal = _money()
    discount_total = _money()
    shipping_fee = _money()
    total = _money()
    shipping_address = models.JSONField()
    tracking_number = models.CharField(max_length=100, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)
    cancelled_by = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=["buyer", "-created_at"], name="order_buyer_created"),
            models.Index(
                fields=["shop", "status", "-created_at"], name="order_shop_status_created"
            ),
            # The expiry sweep: pending orders older than ORDER_PENDING_TTL.
            models.Index(fields=["status", "created_at"], name="order_status_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_gte_0"),
            models.CheckConstraint(
                condition=Q(discount_total__gte=0) & Q(discount_total__lte=models.F("subtotal")),
                name="order_discount_within_subtotal",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(BaseModel):
    """A snapshot of what was bought: later catalog edits never change it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    variant = models.ForeignKey(
        "catalog.ProductVariant", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    product_name = models.CharField(max_length=200)
    sku = models.CharField(max_length=64)
    options = models.JSONField(default=dict, blank=True)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    quantity = models.PositiveIntegerField()
    discount = _money()
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ("created_at", "sku")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class OrderStatusChange(BaseModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # buyer | seller | staff | system: what the actor acted as (a staff member may also buy).
    actor_role = models.CharField(max_length=16, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} → {self.to_status}"
