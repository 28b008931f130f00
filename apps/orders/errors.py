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


class AddressInvalid(InvalidInput):
    code = "order.address_invalid"
    title = "Invalid shipping address"


class AddressNotFound(NotFound):
    code = "order.address_not_found"
    title = "Address not found"


class OrderInvalid(InvalidInput):
    code = "order.invalid"
    title = "Invalid order request"
