"""A Python client generated with openapi-python-client from the live schema, with zero
warnings, drives a whole purchase against the live server: sign up, log in, search, guest cart,
merge, checkout review (a typed response), an order with an Idempotency-Key, my orders, cancel.

The generator is the one pinned in requirements/dev.txt; its post-processing (ruff) runs too."""

import importlib
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

PACKAGE = "marketplace_client"


@pytest.fixture(scope="module")
def generated(demo_schema: Path, tmp_path_factory: pytest.TempPathFactory):
    """The generated package, imported; the generator's output is checked on the way."""
    workdir = tmp_path_factory.mktemp("python-client")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(demo_schema),
            "--output-path",
            str(workdir / PACKAGE),
            "--meta",
            "none",
        ],
        cwd=workdir,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    # Anything but this line is a warning: a schema part the generator could not express (and
    # dropped), a collision of names, a skipped post-processing step.
    assert output == f"Generating {workdir / PACKAGE}", output
    sys.path.insert(0, str(workdir))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(workdir))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def api(module: str):
    return importlib.import_module(f"{PACKAGE}.api.{module}")


def test_a_generated_python_client_makes_a_purchase(generated, demo_server):
    from marketplace_client import AuthenticatedClient, Client
    from marketplace_client.models import (
        AddressRequest,
        AuthOutput,
        CartItemAddInputRequest,
        CartOutput,
        CheckoutOutput,
        CheckoutReviewInputRequest,
        CheckoutReviewOutput,
        LoginInputRequest,
        OrderCancelInputRequest,
        OrderOutput,
        OrderPlaceInputRequest,
        OrderStatusEnum,
        PaginatedOrderOutputList,
        PaginatedProductSummaryOutputList,
        PaymentMethodEnum,
        ProductDetailOutput,
        SignupInputRequest,
    )

    guest = Client(base_url=demo_server.url, raise_on_unexpected_status=True)
    email = f"py-buyer-{uuid.uuid4().hex[:12]}@example.com"
    password = "a-long-and-unusual-passphrase"

    # Sign up, then log in (a new session).
    signup = api("auth.auth_signup").sync_detailed(
        client=guest, body=SignupInputRequest(email=email, password=password, name="Py Buyer")
    )
    assert signup.status_code == 201, signup.content
    assert isinstance(signup.parsed, AuthOutput)
    assert signup.parsed.user.email == email

    login = api("auth.auth_login").sync_detailed(
        client=guest, body=LoginInputRequest(email=email, password=password)
    )
    assert login.status_code == 200, login.content
    assert isinstance(login.parsed, AuthOutput)
    user = AuthenticatedClient(
        base_url=demo_server.url, token=login.parsed.access, raise_on_unexpected_status=True
    )

    # Search as a guest and pick an in-stock variant.
    found = api("products.products_list").sync(client=guest, search="speaker", in_stock=True)
    assert isinstance(found, PaginatedProductSummaryOutputList)
    assert found.results, "the demo catalog has a speaker"
    product = api("products.products_retrieve").sync(found.results[0].slug, client=guest)
    assert isinstance(product, ProductDetailOutput)
    variant = next(v for v in product.variants if v.available > 0)

    # A guest cart: the first cart response hands out the token.
    added = api("cart.cart_items_add").sync_detailed(
        client=guest, body=CartItemAddInputRequest(variant_id=variant.id, quantity=1)
    )
    assert added.status_code == 201, added.content
    assert isinstance(added.parsed, CartOutput)
    assert added.parsed.item_count == 1
    cart_token = added.headers["X-Cart-Token"]

    # Merged into the user's cart after logging in.
    merged = api("cart.cart_merge").sync(client=user, x_cart_token=cart_token)
    assert isinstance(merged, CartOutput)
    assert merged.item_count == 1
    assert merged.shops[0].items[0].variant_id == variant.id

    # Checkout review: typed, priced by the server.
    quote = api("checkout.checkout_review").sync(client=user, body=CheckoutReviewInputRequest())
    assert isinstance(quote, CheckoutReviewOutput)
    assert len(quote.shops) == 1
    assert quote.shops[0].items[0].variant_id == variant.id
    assert Decimal(quote.total) == Decimal(quote.subtotal) + Decimal(quote.shipping_total)

    # The order, placed twice with one Idempotency-Key: one checkout.
    body = OrderPlaceInputRequest(
        shipping_address=AddressRequest(
            name="Py Buyer",
            line1="1 Generator Lane",
            city="Portland",
            postal_code="97201",
            country="US",
            phone="+15035550100",
        ),
        payment_method=PaymentMethodEnum.CASH_ON_DELIVERY,
    )
    key = f"py-order-{uuid.uuid4().hex}"
    placed = api("orders.orders_place").sync_detailed(client=user, body=body, idempotency_key=key)
    assert placed.status_code == 201, placed.content
    checkout = placed.parsed
    assert isinstance(checkout, CheckoutOutput)
    assert checkout.total == quote.total
    [order] = checkout.orders
    assert order.status == OrderStatusEnum.PENDING
    replay = api("orders.orders_place").sync_detailed(client=user, body=body, idempotency_key=key)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert isinstance(replay.parsed, CheckoutOutput)
    assert replay.parsed.id == checkout.id

    # My orders, then cancel.
    mine = api("orders.orders_list").sync(client=user)
    assert isinstance(mine, PaginatedOrderOutputList)
    assert [o.id for o in mine.results] == [order.id]
    cancelled = api("orders.orders_cancel").sync(
        order.id, client=user, body=OrderCancelInputRequest(reason="Changed my mind")
    )
    assert isinstance(cancelled, OrderOutput)
    assert cancelled.status == OrderStatusEnum.CANCELLED
