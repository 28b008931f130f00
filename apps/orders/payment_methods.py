"""Payment methods: the seam through which orders takes money without knowing how.

Orders itself knows cash on delivery: nothing to call, paid on delivery. An app above orders
(payments) registers methods in its `AppConfig.ready()` with `register()`; orders never imports
it. A method is asked at these points of an order's life:

- a method that `prepares_checkout` (card) sees the checkout priced, with the ids it is about to
  be written with, *before* the placement's transaction and before any lock is taken:
  `checkout_prepare` may call a provider there (network: never while stock or discount rows are
  locked); inside the placement's transaction `checkout_record` writes what it got and returns
  the `payment` object of the response; when the placement fails, `checkout_abandoned` undoes
  what `checkout_prepare` did at the provider (after the rollback, durably);
- before a status change's transaction, `transition_prepare` moves money the change needs (a
  refund when a paid order is cancelled or refunded) or refuses the change; it returns the
  payment status the order gets;
- inside that transaction, after the order row is updated (and so locked),
  `transition_applied` records what the money did (refund rows, the seller ledger).

Unpaid orders of a method with a `payment_window()` are cancelled by the expiry sweep once the
window has passed (reason `payment_expired`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict
from uuid import UUID

from apps.orders.models import Order

if TYPE_CHECKING:
    from apps.orders.models import Checkout
    from apps.users.models import User

PaymentStatus = Order.PaymentStatus
Status = Order.Status
# The payment statuses of an order that may still be paid.
UNPAID = frozenset({PaymentStatus.AWAITING_PAYMENT, PaymentStatus.FAILED})


class PaymentError(TypedDict):
    code: str
    detail: str


class CheckoutPayment(TypedDict):
    """The `payment` object of a checkout (see CheckoutPaymentOutput for the schema)."""

    id: str
    provider: str
    status: str
    amount: str
    currency: str
    client_secret: str | None
    expires_at: str | None
    error: PaymentError | None


@dataclass(frozen=True)
class CheckoutDraft:
    """A checkout about to be placed, priced without any lock: the ids, number and amounts it
    will be written with (the placement refuses to write anything else, 409
    `order.checkout_changed`). One order per shop, in the orders' numbering order (`<number>-1`,
    ...): `order_ids`, `shop_ids` and `shop_totals` are parallel."""

    checkout_id: UUID
    number: str
    buyer_id: UUID
    currency: str
    total: Decimal
    order_ids: tuple[UUID, ...]
    shop_ids: tuple[UUID, ...]
    shop_totals: tuple[Decimal, ...]


@dataclass(frozen=True)
class Move:
    """A requested status change, as `order_transition` received it. `context` is the payment
    method's own (e.g. a refund being resumed): orders passes it through untouched."""

    order_id: UUID
    to: str
    actor: User | None
    actor_role: str
    note: str = ""
    tracking_number: str = ""
    restock: bool = False
    reason: str = ""
    context: Any = None


@dataclass(frozen=True)
class OrderState:
    """What the transition read of the order before acting."""

    status: str
    payment_method: str
    payment_status: str
    seller_id: UUID


@dataclass(frozen=True)
class Prepared:
    """A method's answer to `transition_prepare`: the order's payment status after the move
    (None: unchanged) and a value handed back to `transition_applied`."""

    payment_status: str | None = None
    token: Any = None


class PaymentMethod:
    """Cash on delivery, the behaviour orders has on its own. A registered method subclasses this
    and overrides what it needs."""

    code: ClassVar[str] = Order.PaymentMethod.CASH_ON_DELIVERY
    initial_payment_status: ClassVar[str] = PaymentStatus.UNPAID
    # Whether the placement prices the checkout before its transaction and calls
    # `checkout_prepare` with it (cash on delivery: no, nothing to prepare).
    prepares_checkout: ClassVar[bool] = False

    def is_available(self) -> bool:
        """Whether buyers may choose it now (a card method needs its provider configured)."""
        return True

    def payment_window(self) -> timedelta | None:
        """Unpaid orders older than this are cancelled by the expiry sweep; None: no window."""
        return None

    def checkout_prepare(self, *, draft: CheckoutDraft) -> Any:
        """Before the placement's transaction, no lock held (only when `prepares_checkout`):
        start the payment at the provider. Returns a token handed to `checkout_record` and
        `checkout_abandoned`."""
        return None

    def checkout_record(self, *, checkout: Checkout, token: Any) -> CheckoutPayment | None:
        """Inside the placement's transaction, after its rows are written: record the payment
        and return the response's `payment`."""
        return None

    def checkout_abandoned(self, *, draft: CheckoutDraft, token: Any, error: BaseException) -> None:
        """The placement failed after `checkout_prepare` (`error`: why; its transaction is
        rolled back): undo what was started at the provider, durably, never raising."""

    def checkout_payment(self, *, checkout: Checkout) -> CheckoutPayment | None:
        """The checkout's payment as it is now, for responses and replays (no network)."""
        return None

    def transition_prepare(self, *, move: Move, state: OrderState) -> Prepared:
        """Before the change's transaction. Cash is paid on delivery; a refund is settled
        outside the platform."""
        if move.to == Status.DELIVERED:
            return Prepared(payment_status=PaymentStatus.PAID)
        if move.to == Status.REFUNDED:
            return Prepared(payment_status=PaymentStatus.REFUNDED)
        return Prepared()

    def transition_applied(
        self, *, order: Order, move: Move, state: OrderState, prepared: Prepared
    ) -> None:
        """Inside the change's transaction, after the order row was updated."""


_methods: dict[str, PaymentMethod] = {PaymentMethod.code: PaymentMethod()}


def register(method: PaymentMethod) -> None:
    """Install `method` for its code (replacing the one registered before)."""
    _methods[method.code] = method


def method_for(code: str) -> PaymentMethod:
    """The method for `code`; KeyError when none is registered."""
    return _methods[code]


def available() -> list[str]:
    """The codes a buyer may choose at placement."""
    return [code for code, method in _methods.items() if method.is_available()]


def with_window() -> list[tuple[PaymentMethod, timedelta]]:
    """The methods whose unpaid orders expire, with their window."""
    windows = [(method, method.payment_window()) for method in _methods.values()]
    return [(method, window) for method, window in windows if window is not None]
