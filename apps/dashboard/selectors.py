"""The figures staff and sellers run the shop by: sales per day, orders waiting for their next
step, low stock and the newest reviews, for one shop or the whole marketplace; and, for staff,
the health of the asynchronous work (outbox lag, dead-lettered tasks).

The dashboard sits at the edge: it reads orders, inventory, reviews and events, and nothing
below imports it. Every figure is a bounded read: aggregates, and short newest-first lists."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Min, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.catalog.models import Product, ProductVariant
from apps.events.dead_letters import dead_letters_count
from apps.events.models import OutboxEvent
from apps.inventory.selectors import inventory_rows
from apps.orders.models import Order
from apps.reviews.models import Review
from apps.shops.errors import ShopNotFound
from apps.shops.models import Shop
from apps.users.models import User

CENT = Decimal("0.01")
DAYS = 30
LIST_LIMIT = 10
# Orders that stand: a cancelled or refunded order is neither a sale nor revenue.
NOT_SALES = (Order.Status.CANCELLED, Order.Status.REFUNDED)
# Each open status and the step it waits for.
NEXT_STEPS = (
    (Order.Status.PENDING, "confirm"),
    (Order.Status.CONFIRMED, "ship"),
    (Order.Status.SHIPPED, "deliver"),
)
DEAD_LETTERS_CACHE_KEY = "dashboard:dead-letters"
DEAD_LETTERS_CACHE_SECONDS = 30


@dataclass(frozen=True)
class Day:
    day: date
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class Waiting:
    status: str
    next_step: str
    count: int
    oldest_at: datetime | None


@dataclass
class Dashboard:
    currency: str
    today: Day
    days: list[Day]  # the last DAYS days, oldest first, today last
    waiting: list[Waiting]
    low_stock_count: int
    low_stock: list[ProductVariant]  # with on_hand, reserved, available, threshold annotated
    reviews: list[Review] = field(default_factory=list)

    @property
    def period_orders(self) -> int:
        return sum(day.orders for day in self.days)

    @property
    def period_revenue(self) -> Decimal:
        return sum((day.revenue for day in self.days), Decimal("0.00"))


@dataclass(frozen=True)
class Operations:
    outbox_pending: int
    outbox_oldest_at: datetime | None
    # Dead letters per work queue; None: the broker did not answer in time ("unknown").
    dead_letters: dict[str, int] | None

    @property
    def outbox_lag_seconds(self) -> int:
        if self.outbox_oldest_at is None:
            return 0
        return max(int((timezone.now() - self.outbox_oldest_at).total_seconds()), 0)

    @property
    def dead_letters_total(self) -> int | None:
        return None if self.dead_letters is None else sum(self.dead_letters.values())


def _sales_per_day(orders: QuerySet[Order], first: date, last: date) -> list[Day]:
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    rows = (
        orders.filter(created_at__gte=start)
        .exclude(status__in=NOT_SALES)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(orders=Count("id"), revenue=Sum("total"))
    )
    by_day = {row["day"]: row for row in rows}
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        row = by_day.get(day)
        days.append(
            Day(
                day=day,
                orders=row["orders"] if row else 0,
                # SQLite sums decimals as floats: back to cents.
                revenue=(row["revenue"] if row else Decimal(0)).quantize(CENT),
            )
        )
    return days


def dashboard_shop_id(*, user: User, shop_slug: str | None = None) -> UUID | None:
    """Whose figures the caller sees: a seller their own shop's; staff the whole marketplace
    (None), or one shop by slug (ShopNotFound when there is none). IsSeller has already let
    only sellers and staff through (and loaded the seller's shop)."""
    if not user.is_staff:
        return user.shop.pk
    if not shop_slug:
        return None
    shop_id = Shop.objects.filter(slug=shop_slug).values_list("pk", flat=True).first()
    if shop_id is None:
        raise ShopNotFound(f"No shop {shop_slug!r}.")
    return shop_id


def dashboard_get(*, shop_id: UUID | None = None) -> Dashboard:
    """The dashboard of one shop, or of the whole marketplace (`shop_id` None). Six queries."""
    orders = Order.objects.all() if shop_id is None else Order.objects.filter(shop_id=shop_id)
    today = timezone.localdate()
    days = _sales_per_day(orders, today - timedelta(days=DAYS - 1), today)

    open_orders = {
        row["status"]: (row["count"], row["oldest_at"])
        for row in orders.filter(status__in=[status for status, _ in NEXT_STEPS])
        .values("status")
        .annotate(count=Count("id"), oldest_at=Min("created_at"))
    }
    waiting = [
        Waiting(status, step, *open_orders.get(status, (0, None))) for status, step in NEXT_STEPS
    ]

    low = (
        inventory_rows()
        .filter(is_active=True, available__lte=F("low_stock_threshold"))
        .exclude(product__status=Product.Status.ARCHIVED)
        .annotate(stock_item_id=F("stock__id"))  # None: no stock row yet
    )
    reviews = Review.objects.filter(status=Review.Status.PUBLISHED)
    if shop_id is not None:
        low = low.filter(product__shop_id=shop_id)
        reviews = reviews.filter(product__shop_id=shop_id)

    return Dashboard(
        currency=settings.STORE_CURRENCY,
        today=days[-1],
        days=days,
        waiting=waiting,
        low_stock_count=low.count(),
        low_stock=list(low.order_by("available", "sku")[:LIST_LIMIT]),
        reviews=list(
            reviews.select_related("product", "author").order_by("-created_at", "-id")[:LIST_LIMIT]
        ),
    )


def _dead_letters() -> dict[str, int] | None:
    """The broker's DLQ counts, kept for a few seconds in the cache (an unanswered broker
    included), so a page shown often asks the broker at most that often. The cache only
    spares work: without it (Redis down: the cache answers misses) the count is asked each
    time, still bounded in time."""
    cached = cache.get(DEAD_LETTERS_CACHE_KEY, default=False)
    if cached is not False:
        return cached
    counts = dead_letters_count()
    cache.set(DEAD_LETTERS_CACHE_KEY, counts, DEAD_LETTERS_CACHE_SECONDS)
    return counts


def operations_get() -> Operations:
    """Outbox lag (events not yet relayed, and the oldest one's time) and dead letters."""
    outbox = OutboxEvent.objects.filter(published_at=None).aggregate(
        pending=Count("seq"), oldest=Min("occurred_at")
    )
    return Operations(
        outbox_pending=outbox["pending"],
        outbox_oldest_at=outbox["oldest"],
        dead_letters=_dead_letters(),
    )
