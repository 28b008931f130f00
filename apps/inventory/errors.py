"""Inventory domain errors (no HTTP here: the problem+json handler maps the kinds to statuses)."""

from apps.core.errors import Conflict, InvalidInput, NotFound


class InsufficientStock(Conflict):
    """Raised by stock_reserve; extra fields: sku, variant_id, available, requested."""

    code = "inventory.insufficient_stock"
    title = "Not enough stock"


class StockBelowReserved(Conflict):
    """An adjustment would take on_hand below what is reserved (or below zero)."""

    code = "inventory.below_reserved"
    title = "Stock cannot go below what is reserved"


class StockAboveMaximum(Conflict):
    """An adjustment would take on_hand above STOCK_MAX."""

    code = "inventory.above_maximum"
    title = "Stock cannot go above the maximum"


class InsufficientReserved(Conflict):
    """Releasing or fulfilling more units than are reserved (a caller's bookkeeping bug)."""

    code = "inventory.insufficient_reserved"
    title = "Not that many units are reserved"


class InvalidStockQuantity(InvalidInput):
    code = "inventory.invalid_quantity"
    title = "Invalid stock quantity"


class VariantNotFound(NotFound):
    code = "inventory.variant_not_found"
    title = "Variant not found"


class InvalidAdjustment(InvalidInput):
    code = "inventory.invalid_adjustment"
    title = "Invalid stock adjustment"
