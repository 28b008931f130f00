"""Shops (one per seller) and their followers.

The tables keep the names they had when shops lived in the users app (`users_shop`,
`users_shopfollow`): the move changed the code's layout, not the schema."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import BaseModel
from apps.core.slugs import validate_slug_not_uuid
from apps.core.text import validate_single_line

SHOP_DESCRIPTION_MAX = 5000


# The ignore: catalog.Category (shop.categories) is a treebeard MP_Node; treebeard is untyped, so
# the plugin cannot resolve its default manager for the reverse accessor.
class Shop(BaseModel):  # type: ignore[django-manager-missing]
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shop"
    )
    name = models.CharField(max_length=120, validators=[validate_single_line])
    slug = models.SlugField(max_length=140, unique=True, validators=[validate_slug_not_uuid])
    description = models.TextField(max_length=SHOP_DESCRIPTION_MAX, blank=True)
    logo = models.ForeignKey(
        "media.MediaAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shipping_fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    free_shipping_threshold = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # The platform's share of each delivered order (0.10 = 10 %); null: PLATFORM_COMMISSION_RATE.
    # Set by staff only (the admin), never through the seller API.
    commission_rate = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True,
        help_text="0.1000 = 10 %; empty: the platform default (PLATFORM_COMMISSION_RATE)",
    )  # fmt: skip
    # Denormalised counters kept by services with F() updates.
    follower_count = models.PositiveIntegerField(default=0)
    product_count = models.PositiveIntegerField(default=0)
    rating_avg = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0.00"))
    rating_count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "users_shop"
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(
                condition=Q(shipping_fee__gte=0), name="shop_shipping_fee_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(commission_rate__isnull=True)
                | (Q(commission_rate__gte=0) & Q(commission_rate__lte=1)),
                name="shop_commission_rate_0_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ShopFollow(BaseModel):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follows"
    )

    class Meta:
        db_table = "users_shopfollow"
        constraints = [
            models.UniqueConstraint(fields=["shop", "user"], name="shopfollow_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} follows {self.shop}"
