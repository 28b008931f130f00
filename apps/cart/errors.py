"""Cart domain errors. Too much stock asked for is inventory.insufficient_stock (inventory app)."""

from apps.core.errors import InvalidInput, NotFound, RuleViolation


class CartItemNotFound(NotFound):
    code = "cart.item_not_found"
    title = "Cart item not found"


class CartVariantNotFound(NotFound):
    """Unknown variant, inactive variant, or a product that is not published."""

    code = "cart.variant_not_found"
    title = "Product variant not found"


class CartLineQuantityLimit(RuleViolation):
    code = "cart.line_quantity_limit"
    title = "Too many units on one line"


class CartTokenRequired(InvalidInput):
    code = "cart.token_required"
    title = "X-Cart-Token header required"
