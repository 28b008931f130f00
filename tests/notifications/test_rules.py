"""The rule registry: one rule per event type, each subscribed; unknown events notify nobody."""

import pytest

from apps.events.registry import handlers_for
from apps.notifications import rules
from apps.notifications.subscribers import enqueue_notify


def test_each_rule_is_subscribed_and_nothing_else_is():
    assert (
        set(rules.SUBSCRIBED_EVENTS)
        == set(rules.RULES)
        == {
            "order.placed",
            "order.confirmed",
            "order.shipped",
            "order.delivered",
            "order.refunded",
            "order.cancelled",
            "product.published",
            "shop.new_discount",
            "shop.followed",
            "stock.low",
            "review.created",
            "comment.reply",
            "webhook.disabled",
        }
    )
    for event_type in rules.RULES:
        assert enqueue_notify in handlers_for(event_type)


def test_an_event_without_a_rule_notifies_nobody():
    assert list(rules.messages_for("order.paid", {"buyer_id": "b", "seller_id": "s"})) == []


def test_a_second_rule_for_one_event_type_is_refused():
    with pytest.raises(ValueError, match=r"Two notification rules for stock\.low"):
        rules.rule("stock.low")(rules.stock_low)
    assert rules.RULES["stock.low"] is rules.stock_low


def test_status_rules_name_the_status_of_their_event():
    [message] = rules.messages_for(
        "order.shipped", {"number": "C-1", "buyer_id": "b", "tracking_number": "TRK"}
    )
    assert (message.type, message.title, message.body, message.recipient_ids) == (
        "order.status_changed",
        "Order C-1 shipped",
        "Your order C-1 is now shipped. Tracking number: TRK.",
        ["b"],
    )
