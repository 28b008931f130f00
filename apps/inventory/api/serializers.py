from rest_framework import serializers

from apps.inventory.services import ADJUST_REASONS


class ProductRefOutput(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    slug = serializers.CharField(read_only=True)


class InventoryRowOutput(serializers.Serializer):
    """A variant's stock: on hand, reserved by orders, available, and its low-stock threshold."""

    # Rows are variants annotated by `selectors.inventory_rows()`.
    variant_id = serializers.UUIDField(source="id", read_only=True)
    sku = serializers.CharField(read_only=True)
    product = ProductRefOutput(read_only=True)
    on_hand = serializers.IntegerField(read_only=True)
    reserved = serializers.IntegerField(read_only=True)
    available = serializers.IntegerField(read_only=True)
    low_stock_threshold = serializers.IntegerField(read_only=True)


class InventoryListQuery(serializers.Serializer):
    low_stock = serializers.BooleanField(required=False, default=False)
    shop = serializers.SlugField(required=False, help_text="Staff only: one shop's inventory.")


class StockAdjustInput(serializers.Serializer):
    delta = serializers.IntegerField(
        min_value=-1_000_000, max_value=1_000_000, help_text="Non-zero change of on_hand."
    )
    reason = serializers.ChoiceField(choices=ADJUST_REASONS)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate_delta(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("Must not be zero.", code="zero")
        return value


class StockThresholdInput(serializers.Serializer):
    low_stock_threshold = serializers.IntegerField(min_value=0, max_value=1_000_000)


class ActorOutput(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    email = serializers.EmailField(read_only=True)


class StockMovementOutput(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    kind = serializers.CharField(read_only=True)
    # docs/api.md names the ledger's column `reason`, as in the adjust body: the same value as
    # `kind` (an adjustment's reason, or reserve/release/fulfil/return for an order's movements).
    reason = serializers.CharField(source="kind", read_only=True)
    quantity = serializers.IntegerField(read_only=True)
    on_hand_after = serializers.IntegerField(read_only=True)
    reserved_after = serializers.IntegerField(read_only=True)
    note = serializers.CharField(read_only=True)
    actor = ActorOutput(read_only=True, allow_null=True)
    order_id = serializers.UUIDField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
