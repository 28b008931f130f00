"""Payment domain errors (no HTTP here: the problem+json handler maps the kinds to statuses)."""

from apps.core.errors import Conflict, DomainError, InvalidInput, NotFound


class CheckoutNotFound(NotFound):
    code = "checkout.not_found"
    title = "Checkout not found"


class NotPayable(Conflict):
    """Extra field: payment_status (the checkout's payment status, or null without one)."""

    code = "payment.not_payable"
    title = "This checkout cannot be paid"


class NotPaid(Conflict):
    code = "payment.not_paid"
    title = "The order is not paid yet"


class RefundFailed(Conflict):
    """The provider refused the refund: the order is unchanged. Extra field: provider_code."""

    code = "payment.refund_failed"
    title = "The refund was refused"


class RefundInProgress(Conflict):
    code = "payment.refund_in_progress"
    title = "A refund of this order is in progress"


class BadSignature(InvalidInput):
    code = "payment.bad_signature"
    title = "The webhook signature does not verify"


class ShopNotFound(NotFound):
    code = "shop.not_found"
    title = "Shop not found"


class PayoutExceedsBalance(Conflict):
    """Extra fields: available, currency."""

    code = "payout.exceeds_balance"
    title = "The payout exceeds the available balance"


class PayoutInvalid(InvalidInput):
    code = "payout.invalid"
    title = "Invalid payout"


class PaymentUnderReview(Conflict):
    code = "payment.under_review"
    title = "The checkout's payment is flagged for staff review"


class ProviderUnavailable(DomainError):
    """The payment provider could not be reached or did not answer: try again shortly."""

    code = "payment.provider_unavailable"
    title = "The payment provider is unavailable"
    status = 503
