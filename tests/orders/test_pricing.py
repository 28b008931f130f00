"""price_checkout is pure: these tests build its inputs by hand (no database)."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from apps.core.money import ZERO
from apps.discounts.errors import DiscountNotApplicable, DiscountRefused
from apps.discounts.evaluation import DiscountRule
from apps.orders.pricing import PricingLine, ShopInfo, price_checkout

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def shop_info(fee="5.00", threshold=None, name="Shop"):
    return ShopInfo(
        id=uuid.uuid4(),
        slug=name.lower(),
        name=name,
        shipping_fee=Decimal(fee),
        free_shipping_threshold=Decimal(threshold) if threshold is not None else None,
    )


def pline(shop, price, quantity=1, *, for_sale=True, stock=100, product_id=None, path=None):
    return PricingLine(
        variant_id=uuid.uuid4(),
        product_id=product_id or uuid.uuid4(),
        product_name="Thing",
        product_slug="thing",
        sku=f"SKU-{uuid.uuid4().hex[:6]}",
        options={},
        unit_price=Decimal(price),
        quantity=quantity,
        shop_id=shop.id,
        category_path=path,
        for_sale=for_sale,
        stock_available=stock,
    )


def rule(shop, **fields):
    data = {
        "id": uuid.uuid4(),
        "shop_id": shop.id,
        "code": "C",
        "type": "percentage",
        "value": Decimal("10"),
    }
    data.update(fields)
    return DiscountRule(**data)


def price(lines, shops, discounts=None, usage=None):
    return price_checkout(
        lines=lines,
        shops={s.id: s for s in shops},
        discounts_by_shop=discounts or {},
        user_usage=usage or {},
        now=NOW,
    )


def test_two_shops_with_discount_and_free_shipping_after_discount():
    a = shop_info(fee="4.99", threshold="50.00", name="Alpha")
    b = shop_info(fee="3.00", threshold="20.00", name="Beta")
    lines = [pline(a, "30.00", 2), pline(b, "19.00", 1), pline(b, "2.00", 1)]
    quote = price(lines, [a, b], {a.id: [rule(a, value=Decimal("20"), code="A20")]})
    alpha, beta = quote.shops
    # Alpha: 60.00 - 12.00 = 48.00 is below the 50.00 threshold after the discount: fee charged.
    assert (alpha.subtotal, alpha.discount_total, alpha.shipping_fee, alpha.total) == (
        Decimal("60.00"),
        Decimal("12.00"),
        Decimal("4.99"),
        Decimal("52.99"),
    )
    assert [(d.code, d.amount) for d in alpha.discounts] == [("A20", Decimal("12.00"))]
    assert [ql.discount for ql in alpha.lines] == [Decimal("12.00")]
    # Beta: 21.00 reaches the threshold: free.
    assert (beta.subtotal, beta.shipping_fee, beta.total) == (
        Decimal("21.00"),
        ZERO,
        Decimal("21.00"),
    )
    assert (quote.subtotal, quote.discount_total, quote.shipping_total, quote.total) == (
        Decimal("81.00"),
        Decimal("12.00"),
        Decimal("4.99"),
        Decimal("73.99"),
    )
    assert quote.currency == "USD"
    assert quote.warnings == []


def test_unavailable_lines_are_left_out_with_a_warning_and_short_stock_is_flagged():
    s = shop_info()
    gone = pline(s, "9.00", for_sale=False)
    short = pline(s, "1.00", 5, stock=2)
    quote = price([gone, short], [s])
    assert [ql.line.variant_id for ql in quote.shops[0].lines] == [short.variant_id]
    assert quote.subtotal == Decimal("5.00")
    assert [w["code"] for w in quote.warnings] == [
        "cart.line_unavailable",
        "inventory.insufficient_stock",
    ]
    assert quote.warnings[1]["available"] == 2
    assert quote.warnings[1]["requested"] == 5


def test_a_shop_with_only_unavailable_lines_has_no_quote_and_no_fee():
    s = shop_info(fee="7.00")
    quote = price([pline(s, "9.00", for_sale=False)], [s])
    assert quote.shops == []
    assert quote.total == ZERO


def test_a_code_for_a_shop_without_lines_is_not_applicable():
    a, b = shop_info(name="A"), shop_info(name="B")
    with pytest.raises(DiscountNotApplicable):
        price([pline(a, "10.00")], [a, b], {b.id: [rule(b)]})


def test_allocation_spreads_a_discount_over_lines_to_the_cent():
    s = shop_info()
    lines = [pline(s, "1.00"), pline(s, "1.00"), pline(s, "1.00")]
    quote = price(lines, [s], {s.id: [rule(s, type="fixed_amount", value=Decimal("1.00"))]})
    assert [ql.discount for ql in quote.shops[0].lines] == [
        Decimal("0.34"),
        Decimal("0.33"),
        Decimal("0.33"),
    ]
    assert [ql.total for ql in quote.shops[0].lines] == [
        Decimal("0.66"),
        Decimal("0.67"),
        Decimal("0.67"),
    ]


# --- properties

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2)
fees = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("25.00"), places=2)


@st.composite
def checkouts(draw):
    shops = [
        shop_info(
            fee=str(draw(fees)),
            threshold=draw(st.one_of(st.none(), prices.map(str))),
            name=f"S{i}",
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    products = [uuid.uuid4() for _ in range(4)]
    lines = []
    for shop in shops:
        for _ in range(draw(st.integers(1, 5))):
            lines.append(
                pline(
                    shop,
                    str(draw(prices)),
                    draw(st.integers(1, 20)),
                    product_id=draw(st.sampled_from(products)),
                    for_sale=draw(st.booleans()) or draw(st.booleans()),
                )
            )
    discounts = {}
    for shop in shops:
        count = draw(st.integers(0, 3))
        rules = []
        for i in range(count):
            kind = draw(st.sampled_from(["percentage", "fixed_amount"]))
            value = (
                draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2))
                if kind == "percentage"
                else draw(prices)
            )
            subset = draw(st.sets(st.sampled_from(products), max_size=4))
            rules.append(
                rule(
                    shop,
                    code=f"{shop.name}-{i}",
                    type=kind,
                    value=value,
                    max_discount_amount=draw(st.one_of(st.none(), prices)),
                    applies_to="products" if subset else "all",
                    product_ids=frozenset(subset),
                    combinable=True,
                )
            )
        discounts[shop.id] = rules
    return lines, shops, discounts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(checkouts())
def test_totals_are_sums_of_parts_never_negative_and_cents_are_conserved(data):
    lines, shops, discounts = data
    try:
        quote = price(lines, shops, discounts)
    except DiscountRefused:
        assume(False)
        return
    for q in quote.shops:
        line_totals = [ql.line_total for ql in q.lines]
        assert all(ql.line_total == ql.line.unit_price * ql.line.quantity for ql in q.lines)
        assert q.subtotal == sum(line_totals, ZERO)
        # Allocation never creates or loses a cent.
        assert sum((ql.discount for ql in q.lines), ZERO) == q.discount_total
        assert sum((d.amount for d in q.discounts), ZERO) == q.discount_total
        for d in q.discounts:
            assert sum(d.allocations.values(), ZERO) == d.amount
            assert d.amount <= d.eligible_subtotal
            assert d.amount.as_tuple().exponent >= -2
        assert all(ql.discount >= ZERO and ql.total >= ZERO for ql in q.lines)
        assert all(ql.total == ql.line_total - ql.discount for ql in q.lines)
        assert ZERO <= q.discount_total <= q.subtotal
        assert q.total == q.subtotal - q.discount_total + q.shipping_fee
        assert q.total >= ZERO
        if q.shop.free_shipping_threshold is not None and (
            q.subtotal - q.discount_total >= q.shop.free_shipping_threshold
        ):
            assert q.shipping_fee == ZERO
        else:
            assert q.shipping_fee == q.shop.shipping_fee
    assert quote.subtotal == sum((q.subtotal for q in quote.shops), ZERO)
    assert quote.discount_total == sum((q.discount_total for q in quote.shops), ZERO)
    assert quote.shipping_total == sum((q.shipping_fee for q in quote.shops), ZERO)
    assert quote.total == quote.subtotal - quote.discount_total + quote.shipping_total
    assert quote.total >= ZERO
    priced = {ql.line.variant_id for q in quote.shops for ql in q.lines}
    assert priced == {line.variant_id for line in lines if line.for_sale}


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=Decimal("0.00"), max_value=Decimal("100000"), places=2),
    st.lists(
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2),
        min_size=1,
        max_size=12,
    ),
)
def test_allocate_cents_conserves_the_amount_and_respects_weights(amount, weights):
    from apps.discounts.evaluation import allocate_cents

    assume(amount <= sum(weights))
    parts = allocate_cents(amount, weights)
    assert sum(parts, ZERO) == amount
    assert all(ZERO <= p <= w for p, w in zip(parts, weights, strict=True))
