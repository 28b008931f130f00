from rest_framework import serializers

from apps.users.api.serializers import ShopRefOutput

# Large enough for any real cart, small enough that the integer column never overflows; the
# business limit (CART_MAX_LINE_QUANTITY) is checked by the service with its own error code.
QUANTITY_CEILING = 1_000_000


class CartItemAddInput(serializers.Serializer):
    variant_id = serializers.UUIDField()
    quantity = serializers.IntegerField(min_value=1, max_value=QUANTITY_CEILING, default=1)


class CartItemUpdateInput(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=0, max_value=QUANTITY_CEILING)


def _money() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2)


class CartProductOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()


class CartLineOutput(serializers.Serializer):
    id = serializers.UUIDField()
    variant_id = serializers.UUIDField()
    sku = serializers.CharField()
    product = CartProductOutput()
    options = serializers.DictField()
    unit_price = _money()
    quantity = serializers.IntegerField()
    line_total = _money()
    available = serializers.BooleanField(help_text="false when the product is no longer for sale")
    available_quantity = serializers.IntegerField(help_text="units in stock right now")


class CartShopGroupOutput(serializers.Serializer):
    shop = ShopRefOutput()
    items = CartLineOutput(many=True)
    subtotal = _money()


class CartOutput(serializers.Serializer):
    id = serializers.UUIDField(
        allow_null=True,
        help_text="null for a guest without a cart yet: the first added line creates it",
    )
    token = serializers.CharField(
        required=False, help_text="guest carts only: send it back as X-Cart-Token"
    )
    currency = serializers.CharField()
    shops = CartShopGroupOutput(many=True)
    item_count = serializers.IntegerField(help_text="units on all lines")
    subtotal = _money()
