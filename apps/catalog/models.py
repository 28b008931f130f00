import uuid
from decimal import Decimal

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from treebeard.mp_tree import MP_Node

from apps.core.models import BaseModel
from apps.core.slugs import validate_slug_not_uuid
from apps.core.text import validate_single_line

# Long enough for any real product page; a description of megabytes made its search vector exceed
# PostgreSQL's 1 MB tsvector limit (a 500).
PRODUCT_DESCRIPTION_MAX = 20_000


class Category(MP_Node):
    """Category tree (materialised path). `shop` is null for global categories."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True, validators=[validate_slug_not_uuid])
    description = models.TextField(blank=True)
    shop = models.ForeignKey(
        "shops.Shop", null=True, blank=True, on_delete=models.CASCADE, related_name="categories"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    node_order_by = ["name"]

    class Meta:
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


# The ignore: reviews.Comment (product.comments) is a treebeard MP_Node; treebeard is untyped, so
# the plugin cannot resolve its default manager for the reverse accessor.
class Product(BaseModel):  # type: ignore[django-manager-missing]
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    shop = models.ForeignKey("shops.Shop", on_delete=models.PROTECT, related_name="products")
    type = models.CharField(max_length=32, db_index=True)
    name = models.CharField(max_length=200, validators=[validate_single_line])
    slug = models.SlugField(max_length=220, validators=[validate_slug_not_uuid])
    description = models.TextField(max_length=PRODUCT_DESCRIPTION_MAX, blank=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    # The lowest price among active variants, kept by the services; used for filters and ordering.
    price = models.DecimalField(max_digits=12, decimal_places=2)
    published_at = models.DateTimeField(null=True, blank=True)
    # Kept equal to the published reviews by the review services.
    rating_avg = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0.00"))
    rating_count = models.PositiveIntegerField(default=0)
    rating_histogram = models.JSONField(default=dict, blank=True)
    # Weighted name (A) + description (B) tsvector, written by the services on PostgreSQL (GIN
    # index in migration 0002); unused on SQLite, where search degrades to icontains.
    search_vector = SearchVectorField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(fields=["shop", "slug"], name="product_slug_unique_per_shop"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_gte_0"),
            models.CheckConstraint(
                condition=Q(rating_avg__gte=0) & Q(rating_avg__lte=5), name="product_rating_range"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="product_status_created"),
            models.Index(fields=["status", "price"], name="product_status_price"),
            models.Index(fields=["status", "-rating_avg"], name="product_status_rating"),
            models.Index(fields=["shop", "status"], name="product_shop_status"),
        ]

    def __str__(self) -> str:
        return self.name


class ProductVariant(BaseModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=64, unique=True, validators=[validate_single_line])
    options = models.JSONField(default=dict, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("position", "created_at")
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="variant_price_gte_0"),
        ]

    def __str__(self) -> str:
        return self.sku


class ProductImage(BaseModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    # PROTECT: an asset in use by a product cannot be deleted (the media app answers 409).
    asset = models.ForeignKey("media.MediaAsset", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField(default=0)
    alt_text = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ("position", "created_at")
        constraints = [
            models.UniqueConstraint(fields=["product", "asset"], name="product_image_unique"),
        ]

    def __str__(self) -> str:
        return self.alt_text or f"image {self.position + 1}"
