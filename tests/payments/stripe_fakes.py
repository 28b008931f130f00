"""What the tests play besides the platform: the buyer's browser (Stripe.js, confirming an
intent with a test card at localstripe) and Stripe's webhook sender (events signed with the real
`Stripe-Signature` scheme: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`)."""

import hashlib
import hmac
import time
import uuid
from typing import Any

import orjson
import requests
from django.conf import settings

SECRET_KEY = "sk_test_localstripe"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then the charge is declined


def _call(method: str, path: str, data: dict[str, Any] | None = None) -> tuple[int, Any]:
    response = requests.request(
        method,
        f"{settings.STRIPE_API_BASE}{path}",
        **({"params": data} if method == "GET" else {"data": data}),
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=10,
    )
    return response.status_code, response.json()


def intent(intent_id: str) -> dict[str, Any]:
    """The intent as Stripe's API shows it (and as a webhook carries it)."""
    status, body = _call("GET", f"/v1/payment_intents/{intent_id}")
    assert status == 200, body
    return body


def confirm(intent_id: str, card: str = GOOD_CARD) -> int:
    """Pay an intent as Stripe.js would: a card payment method, then confirm. Returns the
    confirm call's HTTP status (402 for a declined card)."""
    status, method = _call(
        "POST",
        "/v1/payment_methods",
        {
            "type": "card",
            "card[number]": card,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
    )
    assert status == 200, method
    status, body = _call(
        "POST", f"/v1/payment_intents/{intent_id}", {"payment_method": method["id"]}
    )
    assert status == 200, body
    return _call("POST", f"/v1/payment_intents/{intent_id}/confirm")[0]


def refunds(intent_id: str) -> list[dict[str, Any]]:
    status, body = _call("GET", "/v1/refunds", {"payment_intent": intent_id, "limit": "100"})
    assert status == 200, body
    return body["data"]


def signature(body: bytes, *, secret: str | None = None, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    secret = settings.STRIPE_WEBHOOK_SECRET if secret is None else secret
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def event(type_: str, obj: dict[str, Any], *, event_id: str | None = None) -> bytes:
    return orjson.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "type": type_,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
        }
    )


def deliver(client: Any, body: bytes, *, signature_header: str | None = None) -> Any:
    """POST the event to the webhook endpoint as Stripe does."""
    return client.post(
        "/api/v1/payments/webhooks/stripe",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature(body) if signature_header is None else signature_header,
    )
