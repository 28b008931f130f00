"""Order domain errors (no HTTP here: the problem+json handler maps the kinds to statuses)."""

from apps.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RuleViolation


class OrderEmpty(RuleViolation):
    code = "order.empty"
    title = "Nothing to order"


class OrderNotFound(NotFound):
    code = "order.not_found"
    title = "Order not found"


class InvalidTransition(Conflict):
    """Extra fields: current_status, to (requested), allowed (the moves from current_status)."""

    code = "order.invalid_transition"
    title = "This status change is not allowed"


class TransitionForbidden(PermissionDenied):
    code = "order.transition_forbidden"
    title = "You may not make this status change"


class TooManyOpenOrders(RuleViolation):
    """Extra fields: limit, open_orders (the buyer's open unpaid orders), new_orders."""

    code = "order.too_many_open_orders"
    title = "Too many unpaid orders"


class VariantQuantityLimit(RuleViolation):
    """Extra fields: sku, variant_id, limit, held (units in open unpaid orders), requested."""

    code = "order.variant_quantity_limit"
    title = "Too many units of one item in unpaid orders"


class AddressInvalid(InvalidInput):
    code = "order.address_invalid"
    title = "Invalid shipping address"


class AddressNotFound(NotFound):
    code = "order.address_not_found"
    title = "Address not found"


class OrderInvalid(InvalidInput):
    code = "order.invalid"
    title = "Invalid order request"


class PaymentStatusChanged(Conflict):
    """The order's payment status is not the one the caller acted on (a payment arrived)."""

    code = "order.payment_status_changed"
    title = "The order's payment status changed"


class CheckoutChanged(Conflict):
    """A card placement is priced, and its payment started, before its transaction; the prices,
    discounts or shipping changed before the orders could be written. Extra fields: total (as
    it is now), quoted_total (the amount the payment was started for)."""

    code = "order.checkout_changed"
    title = "The checkout changed while it was being placed"
