"""Discount refusals. Every refusal is a 422 with a stable code; an unknown code is 404."""

from apps.core.errors import Conflict, InvalidInput, NotFound, RuleViolation


class DiscountNotFound(NotFound):
    code = "discount.not_found"
    title = "Discount code not found"


class DiscountRefused(RuleViolation):
    """Base of the eligibility refusals (extra fields: code of the discount, shop)."""

    code = "discount.refused"
    title = "Discount cannot be applied"


class DiscountInactive(DiscountRefused):
    code = "discount.inactive"
    title = "Discount code is not active"


class DiscountNotStarted(DiscountRefused):
    code = "discount.not_started"
    title = "Discount code is not valid yet"


class DiscountExpired(DiscountRefused):
    code = "discount.expired"
    title = "Discount code has expired"


class DiscountMinOrderValue(DiscountRefused):
    code = "discount.min_order_value"
    title = "Order value is below the discount's minimum"


class DiscountUsageLimit(DiscountRefused):
    code = "discount.usage_limit"
    title = "Discount code has been used up"


class DiscountUserUsageLimit(DiscountRefused):
    code = "discount.user_usage_limit"
    title = "You have already used this discount code as often as allowed"


class DiscountNotApplicable(DiscountRefused):
    code = "discount.not_applicable"
    title = "Discount code does not apply to these items"


class DiscountNotCombinable(DiscountRefused):
    code = "discount.not_combinable"
    title = "Discount codes cannot be combined"


class DiscountCodeTaken(Conflict):
    code = "discount.code_taken"
    title = "This shop already has a discount with that code"


class DiscountInvalid(InvalidInput):
    code = "discount.invalid"
    title = "Invalid discount"
