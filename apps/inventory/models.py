from django.conf import settings
from django.db import models
from django.db.models import F, Q

from apps.core.models import BaseModel


class StockItem(BaseModel):
    """Stock of one variant. The database enforces 0 <= reserved <= on_hand."""

    variant = models.OneToOneField(
        "catalog.ProductVariant", on_delete=models.CASCADE, related_name="stock"
    )
    on_hand = models.PositiveIntegerField(default=0)
    reserved = models.PositiveIntegerField(default=0)
    low_stock_threshold = models.PositiveIntegerField(default=5)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_gte_0"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_gte_0"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_lte_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return self.variant.sku

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(BaseModel):
    """Append-only ledger: one row per change of on_hand or reserved."""

    class Kind(models.TextChoices):
        RESTOCK = "restock", "Restock"
        CORRECTION = "correction", "Correction"
        DAMAGE = "damage", "Damage"
        RETURN = "return", "Return"
        RESERVE = "reserve", "Reserve"
        RELEASE = "release", "Release"
        FULFIL = "fulfil", "Fulfil"

    stock_item = models.ForeignKey(StockItem, on_delete=models.CASCADE, related_name="movements")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Signed change of on_hand (restock, correction, damage, return, fulfil) or of reserved
    # (reserve, release).
    quantity = models.IntegerField()
    on_hand_after = models.PositiveIntegerField()
    reserved_after = models.PositiveIntegerField()
    note = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Orders sit above inventory in the dependency order, so the order is referenced by id only.
    order_id = models.UUIDField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["stock_item", "-created_at"], name="movement_item_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity:+d}"
