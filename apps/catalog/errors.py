"""Catalog domain errors: stable codes, no HTTP."""

from apps.core.errors import Conflict, InvalidInput, NotFound


class ProductNotFound(NotFound):
    code = "catalog.product_not_found"
    title = "Product not found"


class VariantNotFound(NotFound):
    code = "catalog.variant_not_found"
    title = "Variant not found"


class CategoryNotFound(NotFound):
    code = "catalog.category_not_found"
    title = "Category not found"


class UnknownProductType(InvalidInput):
    code = "catalog.unknown_type"
    title = "Unknown product type"


class InvalidAttributes(InvalidInput):
    code = "catalog.invalid_attributes"
    title = "Invalid attributes"


class InvalidOptions(InvalidInput):
    code = "catalog.invalid_options"
    title = "Invalid variant options"


class InvalidProduct(InvalidInput):
    code = "catalog.invalid_product"
    title = "Invalid product"


class SkuTaken(Conflict):
    code = "catalog.sku_taken"
    title = "SKU already in use"


class DuplicateVariant(Conflict):
    code = "catalog.duplicate_variant"
    title = "A variant with these options exists"


class LastVariant(Conflict):
    code = "catalog.last_variant"
    title = "A product keeps at least one variant"


class NotPublishable(Conflict):
    code = "catalog.not_publishable"
    title = "Product cannot be published"


class ProductArchived(Conflict):
    code = "catalog.product_archived"
    title = "Product is archived"


class VariantInUse(Conflict):
    code = "catalog.variant_in_use"
    title = "Variant has reserved stock"
