"""OpenAPI examples of the payment operations (valid against their schemas)."""

from drf_spectacular.utils import OpenApiExample

SHOP = {
    "id": "7d9f2a8e-5b1c-4e3f-9a6d-2c8b1e4f7a90",
    "slug": "northwind-electronics",
    "name": "Northwind Electronics",
}
ORDER: dict[str, object] = {
    "id": "2f1c6b8a-9d4e-4a7b-8c3f-5e6d7a8b9c0d",
    "number": "CK-261207-7QKX4M-1",
    "checkout_number": "CK-261207-7QKX4M",
    "shop": SHOP,
    "buyer": {"id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", "name": "Casey Customer"},
    "status": "pending",
    "payment_method": "card",
    "payment_status": "awaiting_payment",
    "lines": [
        {
            "id": "9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b",
            "product_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "variant_id": "6f5e4d3c-2b1a-4f0e-9d8c-7b6a5f4e3d2c",
            "name": "Aurora X1 Phone",
            "sku": "AUR-X1-128-BLK",
            "options": {"storage": "128 GB", "color": "black"},
            "unit_price": "499.00",
            "quantity": 1,
            "discount": "0.00",
            "line_total": "499.00",
        }
    ],
    "subtotal": "499.00",
    "discount_total": "0.00",
    "shipping_fee": "0.00",
    "total": "499.00",
    "currency": "USD",
    "shipping_address": {
        "name": "Casey Customer",
        "line1": "742 Evergreen Terrace",
        "line2": "",
        "city": "Springfield",
        "state": "OR",
        "postal_code": "97403",
        "country": "US",
        "phone": "+1 541 555 0142",
    },
    "tracking_number": "",
    "cancel_reason": "",
    "cancelled_by": "",
    "history": [
        {
            "status": "pending",
            "from_status": "",
            "at": "2026-12-07T10:00:00Z",
            "actor": "buyer",
            "note": "placed",
        }
    ],
    "created_at": "2026-12-07T10:00:00Z",
    "updated_at": "2026-12-07T10:00:00Z",
}
PAYMENT: dict[str, object] = {
    "id": "c3b2a190-8f7e-4d6c-5b4a-39281706f5e4",
    "provider": "stripe",
    "status": "awaiting_payment",
    "amount": "499.00",
    "currency": "USD",
    "client_secret": "pi_3QkX4mLkdIwHu7ix0abc1234_secret_9fWbQz1kLmN0pQrS",
    "expires_at": "2026-12-07T10:30:00Z",
    "error": None,
    "amount_refunded": "0.00",
    "refunds": [],
}
CHECKOUT_RESPONSE = OpenApiExample(
    "A card checkout awaiting payment",
    value={
        "id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
        "checkout_number": "CK-261207-7QKX4M",
        "orders": [ORDER],
        "subtotal": "499.00",
        "discount_total": "0.00",
        "shipping_total": "0.00",
        "total": "499.00",
        "currency": "USD",
        "payment": PAYMENT,
        "created_at": "2026-12-07T10:00:00Z",
    },
    response_only=True,
)
WEBHOOK_RESPONSE = OpenApiExample(
    "Handled", value={"received": True, "outcome": "applied"}, response_only=True
)
BALANCE_RESPONSE = OpenApiExample(
    "A shop's balance",
    value={"pending": "449.10", "available": "1203.55", "currency": "USD"},
    response_only=True,
)
ENTRIES_RESPONSE = OpenApiExample(
    "Entries of a delivered order",
    value=[
        {
            "id": "4d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a",
            "order_id": ORDER["id"],
            "payout_id": None,
            "kind": "commission",
            "amount": "-49.90",
            "currency": "USD",
            "at": "2026-12-09T15:00:00Z",
            "available_at": "2026-12-16T15:00:00Z",
        },
        {
            "id": "3c2b1a0f-9e8d-4c7b-a6f5-4e3d2c1b0a9f",
            "order_id": ORDER["id"],
            "payout_id": None,
            "kind": "sale",
            "amount": "499.00",
            "currency": "USD",
            "at": "2026-12-09T15:00:00Z",
            "available_at": "2026-12-16T15:00:00Z",
        },
    ],
    response_only=True,
)
PAYOUT = {
    "id": "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d",
    "shop": SHOP,
    "amount": "1000.00",
    "currency": "USD",
    "reference": "SEPA-2026-12-0042",
    "created_at": "2026-12-20T09:00:00Z",
}
PAYOUT_RESPONSE = OpenApiExample("A recorded payout", value=PAYOUT, response_only=True)
PAYOUTS_RESPONSE = OpenApiExample("Payouts", value=[PAYOUT], response_only=True)
