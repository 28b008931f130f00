from typing import Any

from django.conf import settings
from rest_framework import serializers

from apps.core.text import SingleLineField
from apps.discounts.models import DISCOUNT_DESCRIPTION_MAX, Discount

CODE_PATTERN = r"^[A-Za-z0-9_-]{3,32}$"


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2, **kwargs)


class DiscountInput(serializers.Serializer):
    """Seller input. `uses_count` and ids are not fields here: they cannot be written. `shop`
    only names a new code's shop, for staff; a code never changes shop."""

    # One serializer for POST and PATCH (PATCH ignores `shop`): a second input component with
    # the same `type` choices would give the schema's enum a hashed name.
    shop = serializers.CharField(
        required=False,
        max_length=140,
        help_text=(
            "staff only, on create: the shop (slug or id) the code is for; required for staff "
            "without a shop of their own. Ignored for sellers (their codes always go to their "
            "own shop) and on update."
        ),
    )

    code = serializers.RegexField(
        CODE_PATTERN,
        error_messages={"invalid": "3 to 32 letters, digits, '-' or '_'."},
    )
    name = SingleLineField(max_length=120)
    description = serializers.CharField(
        max_length=DISCOUNT_DESCRIPTION_MAX, required=False, allow_blank=True, default=""
    )
    type = serializers.ChoiceField(choices=Discount.Type.choices)
    value = _money()
    max_discount_amount = _money(required=False, allow_null=True, min_value=0)
    min_order_value = _money(required=False, min_value=0)
    max_uses = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2_000_000_000
    )
    max_uses_per_user = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2_000_000_000
    )
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False, default=True)
    is_public = serializers.BooleanField(required=False, default=False)
    applies_to = serializers.ChoiceField(
        choices=Discount.AppliesTo.choices, required=False, default=Discount.AppliesTo.ALL
    )
    product_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=500
    )
    category_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=200
    )
    combinable = serializers.BooleanField(required=False, default=False)


class SellerDiscountListQuery(serializers.Serializer):
    shop = serializers.CharField(
        required=False, max_length=140, help_text="staff only: one shop's codes (slug or id)"
    )


class DiscountShopOutput(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()


class DiscountOutput(serializers.Serializer):
    id = serializers.UUIDField()
    # Which shop the code belongs to: staff list every shop's codes.
    shop = DiscountShopOutput()
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    type = serializers.CharField()
    value = _money()
    max_discount_amount = _money(allow_null=True)
    min_order_value = _money()
    max_uses = serializers.IntegerField(allow_null=True)
    max_uses_per_user = serializers.IntegerField(allow_null=True)
    uses_count = serializers.IntegerField()
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    is_active = serializers.BooleanField()
    is_public = serializers.BooleanField()
    applies_to = serializers.CharField()
    product_ids = serializers.SerializerMethodField()
    category_ids = serializers.SerializerMethodField()
    combinable = serializers.BooleanField()
    currency = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_product_ids(self, obj: Discount) -> list[str]:
        return sorted(str(p.pk) for p in obj.products.all())

    def get_category_ids(self, obj: Discount) -> list[str]:
        return sorted(str(c.pk) for c in obj.categories.all())

    def get_currency(self, obj: Discount) -> str:
        return settings.STORE_CURRENCY


class PublicDiscountOutput(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    type = serializers.CharField()
    value = _money()
    max_discount_amount = _money(allow_null=True)
    min_order_value = _money()
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    applies_to = serializers.CharField()
    combinable = serializers.BooleanField()
    currency = serializers.SerializerMethodField()

    def get_currency(self, obj: Discount) -> str:
        return settings.STORE_CURRENCY


class DiscountProductOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    price = _money()
    currency = serializers.SerializerMethodField()

    def get_currency(self, obj: object) -> str:
        return settings.STORE_CURRENCY


class DiscountProductsQuery(serializers.Serializer):
    shop = serializers.CharField(max_length=140)
