"""The pure evaluator: no database, the clock is an argument."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.discounts import errors
from apps.discounts.evaluation import (
    DiscountableLine,
    DiscountRule,
    allocate_cents,
    discount_evaluate,
    discounts_apply,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SHOP = uuid.uuid4()
P1, P2, P3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def rule(**fields) -> DiscountRule:
    defaults = {
        "id": uuid.uuid4(),
        "shop_id": SHOP,
        "code": "SAVE",
        "type": "percentage",
        "value": Decimal("10"),
    }
    defaults.update(fields)
    return DiscountRule(**defaults)


def line(key, amount, product=P1, path=None) -> DiscountableLine:
    return DiscountableLine(key=key, product_id=product, category_path=path, amount=Decimal(amount))


LINES = [line("a", "60.00", P1, "0001"), line("b", "40.00", P2, "00010002")]


def evaluate(r, lines=LINES, **kwargs):
    return discount_evaluate(rule=r, lines=lines, now=kwargs.pop("now", NOW), **kwargs)


def test_percentage_rounds_half_up_to_cents():
    result = evaluate(rule(value=Decimal("15")), [line("a", "10.10")])
    assert result.amount == Decimal("1.52")  # 1.515 -> 1.52
    assert result.eligible_subtotal == Decimal("10.10")


def test_percentage_is_capped_by_max_discount_amount():
    result = evaluate(rule(value=Decimal("50"), max_discount_amount=Decimal("20.00")))
    assert result.amount == Decimal("20.00")


def test_hundred_percent_equals_eligible_subtotal():
    assert evaluate(rule(value=Decimal("100"))).amount == Decimal("100.00")


def test_fixed_amount_never_exceeds_eligible_subtotal():
    r = rule(type="fixed_amount", value=Decimal("500"), applies_to="products", product_ids={P2})
    result = evaluate(r)
    assert result.amount == Decimal("40.00")
    assert result.eligible_subtotal == Decimal("40.00")
    assert result.eligible_keys == ("b",)


def test_categories_apply_with_descendants():
    parent = rule(applies_to="categories", category_paths=("0001",))
    assert evaluate(parent).eligible_subtotal == Decimal("100.00")
    child = rule(applies_to="categories", category_paths=("00010002",))
    assert evaluate(child).eligible_subtotal == Decimal("40.00")
    other = rule(applies_to="categories", category_paths=("0002",))
    with pytest.raises(errors.DiscountNotApplicable):
        evaluate(other)


@pytest.mark.parametrize(
    ("fields", "kwargs", "error", "code"),
    [
        ({"is_active": False}, {}, errors.DiscountInactive, "discount.inactive"),
        (
            {"starts_at": NOW + timedelta(seconds=1)},
            {},
            errors.DiscountNotStarted,
            "discount.not_started",
        ),
        ({"ends_at": NOW}, {}, errors.DiscountExpired, "discount.expired"),
        ({"max_uses": 3, "uses_count": 3}, {}, errors.DiscountUsageLimit, "discount.usage_limit"),
        (
            {"max_uses_per_user": 2},
            {"user_uses": 2},
            errors.DiscountUserUsageLimit,
            "discount.user_usage_limit",
        ),
        (
            {"applies_to": "products", "product_ids": frozenset({P3})},
            {},
            errors.DiscountNotApplicable,
            "discount.not_applicable",
        ),
        (
            {"min_order_value": Decimal("100.01")},
            {},
            errors.DiscountMinOrderValue,
            "discount.min_order_value",
        ),
    ],
)
def test_every_refusal_has_its_code(fields, kwargs, error, code):
    with pytest.raises(error) as caught:
        evaluate(rule(**fields), **kwargs)
    assert caught.value.code == code
    assert caught.value.status == 422
    assert caught.value.extra["discount_code"] == "SAVE"


def test_boundaries_are_accepted():
    ok = rule(
        starts_at=NOW,
        ends_at=NOW + timedelta(seconds=1),
        max_uses=3,
        uses_count=2,
        max_uses_per_user=2,
        min_order_value=Decimal("100.00"),
    )
    assert evaluate(ok, user_uses=1).amount == Decimal("10.00")


def test_time_is_judged_at_the_moment_given():
    r = rule(ends_at=NOW + timedelta(days=1))
    assert evaluate(r).amount == Decimal("10.00")
    with pytest.raises(errors.DiscountExpired):
        evaluate(r, now=NOW + timedelta(days=2))


def test_min_order_value_uses_the_whole_shop_subtotal():
    r = rule(applies_to="products", product_ids={P2}, min_order_value=Decimal("90"))
    assert evaluate(r).amount == Decimal("4.00")


def test_no_lines_is_not_applicable():
    with pytest.raises(errors.DiscountNotApplicable):
        evaluate(rule(), [])


def test_non_combinable_code_is_exclusive():
    a = rule(code="A", combinable=True)
    b = rule(code="B", combinable=False)
    with pytest.raises(errors.DiscountNotCombinable) as caught:
        discounts_apply(rules=[a, b], lines=LINES, now=NOW)
    assert caught.value.code == "discount.not_combinable"
    assert caught.value.extra["discount_code"] == "B"
    # Alone, each is fine.
    assert discounts_apply(rules=[b], lines=LINES, now=NOW)[0].amount == Decimal("10.00")


def test_the_same_code_twice_counts_once():
    a = rule(code="A")
    applied = discounts_apply(rules=[a, a], lines=LINES, now=NOW)
    assert [d.amount for d in applied] == [Decimal("10.00")]


def test_combinable_codes_add_but_never_exceed_the_shop_subtotal():
    a = rule(code="A", type="fixed_amount", value=Decimal("70"), combinable=True)
    b = rule(code="B", type="fixed_amount", value=Decimal("70"), combinable=True)
    applied = discounts_apply(rules=[a, b], lines=LINES, now=NOW)
    assert [d.amount for d in applied] == [Decimal("70.00"), Decimal("30.00")]
    assert sum(d.amount for d in applied) == Decimal("100.00")


def test_overlapping_codes_never_push_a_line_below_zero():
    only_b = rule(
        code="B",
        type="fixed_amount",
        value=Decimal("40"),
        combinable=True,
        applies_to="products",
        product_ids={P2},
    )
    everything = rule(code="ALL", type="fixed_amount", value=Decimal("50"), combinable=True)
    applied = discounts_apply(rules=[only_b, everything], lines=LINES, now=NOW)
    per_line = {"a": Decimal(0), "b": Decimal(0)}
    for d in applied:
        for key, part in d.allocations.items():
            per_line[key] += part
    assert per_line == {"a": Decimal("50.00"), "b": Decimal("40.00")}
    assert [d.amount for d in applied] == [Decimal("40.00"), Decimal("50.00")]


def test_allocation_splits_to_the_cent_largest_remainder_first():
    assert allocate_cents(Decimal("10.00"), [Decimal("1"), Decimal("1"), Decimal("1")]) == [
        Decimal("3.34"),
        Decimal("3.33"),
        Decimal("3.33"),
    ]
    assert allocate_cents(Decimal("0.05"), [Decimal("30"), Decimal("10")]) == [
        Decimal("0.04"),
        Decimal("0.01"),
    ]
    assert allocate_cents(Decimal("0"), [Decimal("5")]) == [Decimal("0.00")]
    assert allocate_cents(Decimal("7.00"), [Decimal("7.00")]) == [Decimal("7.00")]
