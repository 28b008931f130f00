import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import BaseModel


def new_cart_token() -> str:
    return secrets.token_urlsafe(32)


class Cart(BaseModel):
    """A signed-in user's cart (`user`) or a guest's (`token`, sent back as X-Cart-Token).

    Exactly one of the two is set. `updated_at` moves on every change; idle guest carts are
    purged after CART_GUEST_TTL_DAYS.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="cart",
    )
    token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(token__isnull=True))
                | (Q(user__isnull=True) & Q(token__isnull=False)),
                name="cart_user_xor_token",
            ),
        ]
        indexes = [
            models.Index(
                fields=["updated_at"], name="cart_guest_updated", condition=Q(user__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"cart of {self.user_id}" if self.user_id else "guest cart"


class CartItem(BaseModel):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    variant = models.ForeignKey(
        "catalog.ProductVariant", on_delete=models.CASCADE, related_name="+"
    )
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ("created_at", "id")
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="cartitem_unique_variant"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cartitem_quantity_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.variant.sku}"
