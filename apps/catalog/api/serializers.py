"""Catalog input and output serializers. Outputs are plain read-only serializers (hot paths).

Reusable by other apps: `ProductSummaryOutput` (compact product for cart, orders, discounts),
`VariantOutput`. A product's shop is users' `ShopRefOutput`; image URLs come from the media app's
`asset_url` and `asset_thumbnail_urls`, the same ones its own `MediaAssetOutput` uses."""

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.catalog.models import PRODUCT_DESCRIPTION_MAX, Product
from apps.catalog.services import MAX_IMAGES, MAX_VARIANTS
from apps.core.money import money_str
from apps.core.text import SingleLineField
from apps.media.api.serializers import ThumbnailsOutput, asset_thumbnail_urls, asset_url
from apps.users.api.serializers import ShopRefOutput

MEDIA_URL_HELP = (
    "The original image (absolute, or relative to the API host on the filesystem backend)."
)

RATING_KEYS = ("1", "2", "3", "4", "5")
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def _iso(value: datetime | None) -> str | None:
    """As DRF's DateTimeField renders it (UTC with a Z)."""
    if value is None:
        return None
    text = timezone.localtime(value, UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def rating_histogram(raw: Any) -> dict[str, int]:
    raw = raw if isinstance(raw, dict) else {}
    return {key: int(raw.get(key, 0) or 0) for key in RATING_KEYS}


class CategoryRefOutput(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()


def image_as_dict(image: Any) -> dict[str, Any]:
    """One product image (`ProductImage` with its asset loaded) as `ImageOutput` renders it; no
    queries. Hand-built because lists render one per product; tests/catalog pins it equal."""
    asset = image.asset
    return {
        "id": str(image.pk),
        "asset_id": str(asset.pk),
        "url": asset_url(asset),
        "thumbnails": asset_thumbnail_urls(asset),
        "width": asset.width,
        "height": asset.height,
        "position": image.position,
        "alt_text": image.alt_text,
    }


class ImageOutput(serializers.Serializer):
    id = serializers.UUIDField()
    asset_id = serializers.UUIDField()
    url = serializers.SerializerMethodField()
    thumbnails = serializers.SerializerMethodField()
    width = serializers.IntegerField(source="asset.width", allow_null=True)
    height = serializers.IntegerField(source="asset.height", allow_null=True)
    position = serializers.IntegerField()
    alt_text = serializers.CharField()

    def to_representation(self, image: Any) -> dict[str, Any]:
        return image_as_dict(image)

    @extend_schema_field({"type": "string", "nullable": True, "description": MEDIA_URL_HELP})
    def get_url(self, image: Any) -> str | None:
        return asset_url(image.asset)

    @extend_schema_field(ThumbnailsOutput)
    def get_thumbnails(self, image: Any) -> dict[str, str | None]:
        return asset_thumbnail_urls(image.asset)


class VariantOutput(serializers.Serializer):
    id = serializers.UUIDField()
    sku = serializers.CharField()
    options = serializers.DictField(child=serializers.CharField())
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.SerializerMethodField()
    is_active = serializers.BooleanField()
    position = serializers.IntegerField()
    available = serializers.SerializerMethodField()

    def get_currency(self, variant: Any) -> str:
        return settings.STORE_CURRENCY

    def get_available(self, variant: Any) -> int:
        stock = getattr(variant, "stock", None)  # inventory.StockItem, absent until stocked
        return max(stock.on_hand - stock.reserved, 0) if stock is not None else 0


RATING_HISTOGRAM_SCHEMA = {
    "type": "object",
    "properties": {key: {"type": "integer", "minimum": 0} for key in RATING_KEYS},
    "required": list(RATING_KEYS),
}


def _images_of(product: Product) -> list[Any]:
    """The catalog's lists prefetch images into a plain list (`selectors.LIST_IMAGES`); other
    callers' querysets prefetch `images` or not at all."""
    listed = getattr(product, "listed_images", None)
    return listed if listed is not None else list(product.images.all())


class ProductSummaryOutput(serializers.Serializer):
    """A product in lists (and in other apps' responses): no variants, first image only."""

    id = serializers.UUIDField()
    slug = serializers.CharField()
    type = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.SerializerMethodField()
    shop = ShopRefOutput()
    category = CategoryRefOutput(allow_null=True)
    image = serializers.SerializerMethodField()
    in_stock = serializers.SerializerMethodField()
    rating_avg = serializers.DecimalField(max_digits=3, decimal_places=2)
    rating_count = serializers.IntegerField()
    published_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def to_representation(self, product: Product) -> dict[str, Any]:
        # Hand-built for speed (lists render 20-100 of these); equal to the declared fields'
        # output, which tests/catalog pins. The declarations document the schema.
        shop, category = product.shop, product.category
        images = _images_of(product)
        return {
            "id": str(product.pk),
            "slug": product.slug,
            "type": product.type,
            "name": product.name,
            "status": product.status,
            "price": money_str(product.price),
            "currency": settings.STORE_CURRENCY,
            "shop": {"id": str(shop.pk), "slug": shop.slug, "name": shop.name},
            "category": (
                {"id": str(category.pk), "slug": category.slug, "name": category.name}
                if category is not None
                else None
            ),
            "image": image_as_dict(images[0]) if images else None,
            "in_stock": getattr(product, "in_stock", None),
            "rating_avg": money_str(product.rating_avg),
            "rating_count": product.rating_count,
            "published_at": _iso(product.published_at),
            "created_at": _iso(product.created_at),
        }

    def get_currency(self, product: Product) -> str:
        return settings.STORE_CURRENCY

    @extend_schema_field(ImageOutput(allow_null=True))
    def get_image(self, product: Product) -> dict[str, Any] | None:
        images = _images_of(product)
        return image_as_dict(images[0]) if images else None

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_in_stock(self, product: Product) -> bool | None:
        return getattr(product, "in_stock", None)


class ProductDetailOutput(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    type = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    status = serializers.CharField()
    category = CategoryRefOutput(allow_null=True)
    shop = ShopRefOutput()
    attributes = serializers.DictField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.SerializerMethodField()
    variants = VariantOutput(many=True)
    images = ImageOutput(many=True)
    rating_avg = serializers.DecimalField(max_digits=3, decimal_places=2)
    rating_count = serializers.IntegerField()
    rating_histogram = serializers.SerializerMethodField()
    published_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_currency(self, product: Product) -> str:
        return settings.STORE_CURRENCY

    @extend_schema_field(RATING_HISTOGRAM_SCHEMA)
    def get_rating_histogram(self, product: Product) -> dict[str, int]:
        return rating_histogram(product.rating_histogram)


class ProductTypeOutput(serializers.Serializer):
    type = serializers.CharField()
    name = serializers.CharField()
    attributes_schema = serializers.DictField()
    variant_options = serializers.ListField(child=serializers.DictField())


class CategoryNodeOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    description = serializers.CharField()
    shop_id = serializers.UUIDField(allow_null=True)
    children = serializers.ListField(child=serializers.DictField())


# --- inputs -------------------------------------------------------------------------------------


class VariantCreateInput(serializers.Serializer):
    sku = serializers.RegexField(SKU_PATTERN, required=False)
    options = serializers.DictField(required=False, default=dict)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    stock = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)
    is_active = serializers.BooleanField(required=False, default=True)


class ProductVariantInput(VariantCreateInput):
    """A variant inside POST /products: the price may come from the product."""

    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)


class VariantUpdateInput(serializers.Serializer):
    sku = serializers.RegexField(SKU_PATTERN, required=False)
    options = serializers.DictField(required=False)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    is_active = serializers.BooleanField(required=False)
    # Bounded: a sort key among at most MAX_VARIANTS variants; beyond the integer column is a 500.
    position = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)


class ProductCreateInput(serializers.Serializer):
    type = serializers.CharField(max_length=32)
    name = SingleLineField(max_length=200)
    description = serializers.CharField(
        max_length=PRODUCT_DESCRIPTION_MAX, required=False, allow_blank=True, default=""
    )
    category = serializers.CharField(
        max_length=140, required=False, allow_null=True, help_text="id or slug"
    )
    price = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    attributes = serializers.DictField(required=False, default=dict)
    # The count is checked before any element is validated (ListSerializer does so).
    variants: serializers.ListSerializer = serializers.ListSerializer(
        child=ProductVariantInput(), required=False, allow_empty=False, max_length=MAX_VARIANTS
    )
    stock = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)
    image_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=MAX_IMAGES
    )
    shop = serializers.CharField(
        max_length=140,
        required=False,
        help_text="Staff only: the shop (id or slug); ignored for sellers.",
    )


class ProductUpdateInput(serializers.Serializer):
    name = SingleLineField(max_length=200, required=False)
    description = serializers.CharField(
        max_length=PRODUCT_DESCRIPTION_MAX, required=False, allow_blank=True
    )
    category = serializers.CharField(
        max_length=140, required=False, allow_null=True, help_text="id or slug"
    )
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    attributes = serializers.DictField(
        required=False, help_text="Merged key by key into the current attributes; null removes."
    )
    image_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=MAX_IMAGES,
        help_text="Replaces the image list.",
    )


class ProductListQuery(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=200)
    type = serializers.CharField(required=False, allow_blank=True)
    shop = serializers.CharField(required=False, allow_blank=True, help_text="id or slug")
    category = serializers.CharField(
        required=False, allow_blank=True, help_text="id or slug; includes descendants"
    )
    min_price = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    max_price = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    in_stock = serializers.BooleanField(required=False, allow_null=True, default=None)
    ordering = serializers.ChoiceField(
        choices=["price", "-price", "-created_at", "-rating", "relevance"], required=False
    )


class SellerProductListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=Product.Status.choices, required=False)
    search = serializers.CharField(required=False, allow_blank=True, max_length=200)
