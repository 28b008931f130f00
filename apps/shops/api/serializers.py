"""Input and output shapes of shops."""

from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import serializers

from apps.core.text import SingleLineField
from apps.media.api.serializers import MediaAssetOutput
from apps.shops.models import SHOP_DESCRIPTION_MAX


class ShopOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    description = serializers.CharField()
    logo = MediaAssetOutput(allow_null=True)
    status = serializers.CharField()
    product_count = serializers.IntegerField()
    follower_count = serializers.IntegerField()
    rating_avg = serializers.DecimalField(max_digits=3, decimal_places=2)
    rating_count = serializers.IntegerField()
    shipping_fee = serializers.DecimalField(max_digits=10, decimal_places=2)
    free_shipping_threshold = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True
    )
    currency = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_currency(self, shop: Any) -> str:
        return settings.STORE_CURRENCY


class ShopCreateInput(serializers.Serializer):
    name = SingleLineField(max_length=120)
    description = serializers.CharField(
        max_length=SHOP_DESCRIPTION_MAX, required=False, allow_blank=True, default=""
    )
    shipping_fee = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, required=False, default=Decimal("0.00")
    )
    free_shipping_threshold = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True, default=None
    )


class ShopUpdateInput(serializers.Serializer):
    """Partial. The slug, status and counters are not editable here."""

    name = SingleLineField(max_length=120, required=False)
    description = serializers.CharField(
        max_length=SHOP_DESCRIPTION_MAX, required=False, allow_blank=True
    )
    shipping_fee = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, required=False
    )
    free_shipping_threshold = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    logo_id = serializers.UUIDField(required=False, allow_null=True)
