"""The order status machine: the one place that says which status may follow which, and who may
make the move. `services.order_transition` applies it with a conditional UPDATE.

    pending -> confirmed -> shipped -> delivered -> refunded
    pending | confirmed -> cancelled
"""

from apps.orders.models import Order

Status = Order.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset({Status.CONFIRMED, Status.CANCELLED}),
    Status.CONFIRMED: frozenset({Status.SHIPPED, Status.CANCELLED}),
    Status.SHIPPED: frozenset({Status.DELIVERED}),
    Status.DELIVERED: frozenset({Status.REFUNDED}),
    Status.CANCELLED: frozenset(),
    Status.REFUNDED: frozenset(),
}

# Who makes a move: the buyer may only cancel; the system (expiry) only cancels; the shop's
# seller and staff may make any allowed move.
ROLE_BUYER = "buyer"
ROLE_SELLER = "seller"
ROLE_STAFF = "staff"
ROLE_SYSTEM = "system"
ROLES = (ROLE_BUYER, ROLE_SELLER, ROLE_STAFF, ROLE_SYSTEM)
ROLE_MOVES: dict[str, frozenset[str] | None] = {
    ROLE_BUYER: frozenset({Status.CANCELLED}),
    ROLE_SYSTEM: frozenset({Status.CANCELLED}),
    ROLE_SELLER: None,  # any allowed move
    ROLE_STAFF: None,
}

# Statuses that hold a stock reservation (cancelling them releases it).
RESERVED_STATUSES = frozenset({Status.PENDING, Status.CONFIRMED})


def allowed_from(status: str) -> list[str]:
    """The statuses that may follow `status`, in lifecycle order."""
    return [s for s in Status.values if s in TRANSITIONS.get(status, ())]


def is_allowed(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, ())


def role_may(role: str, to_status: str) -> bool:
    moves = ROLE_MOVES.get(role, frozenset())
    return moves is None or to_status in moves
