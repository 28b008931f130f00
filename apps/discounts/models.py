from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from apps.core.models import BaseModel
from apps.core.text import validate_single_line

DISCOUNT_DESCRIPTION_MAX = 2000


class Discount(BaseModel):
    """A shop's discount code. `uses_count` changes only through discount_redeem/release."""

    class Type(models.TextChoices):
        PERCENTAGE = "percentage", "Percentage"
        FIXED_AMOUNT = "fixed_amount", "Fixed amount"

    class AppliesTo(models.TextChoices):
        ALL = "all", "All products of the shop"
        PRODUCTS = "products", "Selected products"
        CATEGORIES = "categories", "Selected categories (with descendants)"

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="discounts")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=120, validators=[validate_single_line])
    description = models.TextField(max_length=DISCOUNT_DESCRIPTION_MAX, blank=True)
    type = models.CharField(max_length=16, choices=Type.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    max_discount_amount = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    min_order_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    max_uses_per_user = models.PositiveIntegerField(null=True, blank=True)
    uses_count = models.PositiveIntegerField(default=0, editable=False)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_public = models.BooleanField(default=False)
    applies_to = models.CharField(max_length=16, choices=AppliesTo.choices, default=AppliesTo.ALL)
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="+")
    categories = models.ManyToManyField("catalog.Category", blank=True, related_name="+")
    combinable = models.BooleanField(default=False)
    # When the shop's followers were told about the code (`shop.new_discount`): a code is
    # announced once, the first time it is public and active, however often it is toggled.
    announced_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(Lower("code"), "shop", name="discount_code_ci_unique_per_shop"),
            models.CheckConstraint(condition=Q(value__gt=0), name="discount_value_gt_0"),
            models.CheckConstraint(
                condition=~Q(type="percentage") | Q(value__lte=100),
                name="discount_percentage_lte_100",
            ),
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(uses_count__lte=F("max_uses")),
                name="discount_uses_within_max",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=F("starts_at")),
                name="discount_ends_after_starts",
            ),
            models.CheckConstraint(
                condition=Q(min_order_value__gte=0), name="discount_min_order_value_gte_0"
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "is_active", "is_public"], name="discount_shop_pub")
        ]

    def __str__(self) -> str:
        return self.code


class DiscountRedemption(BaseModel):
    """One use of a discount by an order. Released (not deleted) when the order is cancelled."""

    discount = models.ForeignKey(Discount, on_delete=models.PROTECT, related_name="redemptions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="discount_redemptions"
    )
    # Orders sit above discounts in the dependency order, so the order is referenced by id only.
    order_id = models.UUIDField(db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["discount", "order_id"], name="redemption_once_per_order"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="redemption_amount_gte_0"),
        ]
        indexes = [
            models.Index(fields=["discount", "user"], name="redemption_discount_user"),
        ]
