"""Property-based fuzzing of every documented operation with schemathesis.

The OpenAPI schema is loaded from the Django WSGI app itself (`/api/schema/`), so the fuzz always
follows the code. Each operation becomes its own pytest test; Hypothesis generates a few bodies,
query strings, path parameters and headers from the schema and sends them, authenticated as a
seller with a shop and a published, stocked product. What must hold for any input: the server
never answers an undocumented 5xx (bad input is a 4xx problem+json), and errors are
problem+json. A 5xx the operation documents is its contract, not a bug: `/health` answers 503
when a dependency is slow or down (the fuzz runs on a loaded machine), media uploads 503 when
the storage backend is unreachable."""

import itertools
import os
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, settings
from rest_framework.throttling import SimpleRateThrottle
from schemathesis import CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.catalog.factories import make_product
from tests.conftest import clear_own_cache
from tests.shops.factories import ShopFactory

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

# Operations that must not run under a fuzzer: the SSE stream holds the connection open, and
# from-url would make this test fetch arbitrary internet addresses.
schema = schema.exclude(path_regex=r"^/api/v1/(notifications/stream|media/from-url)$")

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
FUZZ_LOG = os.environ.get("FUZZ_LOG", "")  # append "<METHOD> <path> <status>" per request


def not_an_undocumented_server_error(ctx: CheckContext, response: Response, case) -> None:
    """schemathesis' `not_a_server_error`, except for a 5xx status the operation documents."""
    if str(response.status_code) in case.operation.definition.raw.get("responses", {}):
        return
    not_a_server_error(ctx, response, case)


# The check that always holds. FUZZ_CONFORMANCE=1 adds the schema-conformance checks (status
# codes, content types and bodies as documented) for a stricter, advisory run.
CHECKS = [not_an_undocumented_server_error]
if os.environ.get("FUZZ_CONFORMANCE") == "1":
    CHECKS += [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(autouse=True)
def _no_throttling(monkeypatch):
    """Rate limits would turn most examples into 429s and hide the code behind them."""
    rates = dict.fromkeys(SimpleRateThrottle.THROTTLE_RATES, "100000/min")
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """Django's WSGI handler closes the database connection at the end of each request (the
    test client switches that off the same way); the test's transaction must survive."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@dataclass
class World:
    """Real objects the fuzzed seller can reach, by path parameter."""

    headers: dict[str, str]
    ids: dict[tuple[str, str], str]  # (path prefix, parameter name) -> a real value
    calls: itertools.count = field(default_factory=itertools.count)

    def real_value(self, path: str, name: str) -> str | None:
        for (prefix, param), value in self.ids.items():
            if param == name and path.startswith(prefix):
                return value
        return None


@pytest.fixture
def world(db) -> World:
    """A seller with a shop, a published stocked product, a discount, a comment and an order
    placed by a customer; the same seller also bought (and reviewed) from another shop, has an
    address, an uploaded image, a cart line and a notification."""
    from apps.cart.services import cart_get_for_user, cart_item_add
    from apps.reviews.services import comment_create, review_create
    from apps.users.services.sessions import session_tokens_issue
    from tests.discounts.factories import DiscountFactory
    from tests.media.factories import MediaAssetFactory
    from tests.notifications.factories import NotificationFactory
    from tests.orders.factories import order_in
    from tests.users.factories import AddressFactory, UserFactory

    shop = ShopFactory(name="Fuzz Shop", slug="fuzz-shop")
    seller = shop.owner
    product = make_product(shop, name="Fuzz Lamp", stock=20)
    variant = product.variants.get()
    other = make_product(ShopFactory(name="Other", slug="other"), name="Other Lamp", stock=20)
    other_variant = other.variants.get()
    discount = DiscountFactory(shop=shop, code="FUZZ10")
    comment = comment_create(product_id=product.pk, author=seller, body="Ask me anything.")
    sold = order_in("pending", buyer=UserFactory(), variant=variant, quantity=1)
    bought = order_in("delivered", buyer=seller, variant=other_variant, quantity=1)
    review = review_create(product_id=other.pk, author=seller, rating=4, title="Good")
    item = cart_item_add(
        cart=cart_get_for_user(user=seller), variant_id=other_variant.pk, quantity=1
    )
    ids = {
        ("/api/v1/products/", "ident"): str(product.pk),
        ("/api/v1/products/", "product_ref"): str(product.pk),
        ("/api/v1/products/", "variant_id"): str(variant.pk),
        ("/api/v1/seller/inventory/", "variant_id"): str(variant.pk),
        ("/api/v1/shops/", "ident"): shop.slug,
        ("/api/v1/shops/", "shop"): shop.slug,
        ("/api/v1/discounts/", "code"): discount.code,
        ("/api/v1/seller/discounts/", "discount_id"): str(discount.pk),
        ("/api/v1/comments/", "comment_id"): str(comment.pk),
        ("/api/v1/reviews/", "review_id"): str(review.pk),
        ("/api/v1/orders/", "order_id"): str(bought.pk),
        ("/api/v1/seller/orders/", "order_id"): str(sold.pk),
        ("/api/v1/cart/items/", "item_id"): str(item.pk),
        ("/api/v1/me/addresses/", "address_id"): str(AddressFactory(user=seller).pk),
        ("/api/v1/media/", "asset_id"): str(MediaAssetFactory(owner=seller).pk),
        ("/api/v1/notifications/", "notification_id"): str(
            NotificationFactory(recipient=seller).pk
        ),
    }
    token = session_tokens_issue(user=seller)["access"]
    # identity: the in-process WSGI client does not undo the gzip middleware's compression.
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    return World(headers=headers, ids=ids)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case, world):
    # Every other example targets the seller's real objects, so bodies and queries are fuzzed
    # against rows that exist and belong to the caller, not only against 404s.
    if case.path_parameters and next(world.calls) % 2 == 0:
        for name in case.path_parameters:
            value = world.real_value(case.operation.path, name)
            if value is not None:
                case.path_parameters[name] = value
    response = case.call(headers=world.headers)
    if FUZZ_LOG:
        with open(FUZZ_LOG, "a") as log:
            log.write(f"{case.operation.label} {response.status_code}\n")
    case.validate_response(response, checks=CHECKS, headers=world.headers)
    if response.status_code >= 400:
        (content_type,) = response.headers["content-type"]  # lowercase keys, list values
        assert content_type.startswith("application/problem+json"), (
            response.status_code,
            response.text[:500],
        )


def test_a_documented_server_error_passes_the_check_and_an_undocumented_one_fails(monkeypatch):
    down = {
        "status": "error",
        "checks": {"database": "error", "cache": "ok", "broker": "skipped", "kafka": "skipped"},
    }
    monkeypatch.setattr("apps.core.api.views.health_report_recent", lambda: down)
    case = schema["/api/v1/health"]["GET"].Case()
    response = case.call(headers={"Accept-Encoding": "identity"})
    assert response.status_code == 503
    case.validate_response(response, checks=CHECKS)  # documented: no failure

    def broken():
        raise RuntimeError("a bug")

    monkeypatch.setattr("apps.core.api.views.health_report_recent", broken)
    response = case.call(headers={"Accept-Encoding": "identity"})
    assert response.status_code == 500
    with pytest.raises(FailureGroup) as failures:
        case.validate_response(response, checks=CHECKS)
    assert [type(failure) for failure in failures.value.exceptions] == [ServerError]


STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "50"))
# Valid inputs only, so that sequences get far (invalid ones are the per-operation fuzz's job),
# and without the operations that end the caller's sessions: every later step would be a 401.
# A schema of its own: filtered schemas share their loader's configuration.
stateful_schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application).exclude(
    path_regex=r"^/api/v1/(notifications/stream|media/from-url|auth/logout-all|auth/logout"
    r"|me/password|auth/password-reset/confirm)$"
)
stateful_schema.config.generation.update(modes=[GenerationMode.POSITIVE])
STATEFUL_CHECKS = [
    not_an_undocumented_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_stateful_sequences_are_conformant(world):
    """Sequences of calls linked by the ids one response hands to the next operation (links that
    schemathesis infers from the schema: a created product's id to its variants, a cart line's
    id to PATCH/DELETE, an order's id to cancel, ...), always with the conformance checks:
    no undocumented 5xx, and every status code, content type and body as the schema documents."""
    headers = world.headers

    class Workflow(stateful_schema.as_state_machine()):  # type: ignore[misc,valid-type]
        def setup(self):
            # Every scenario starts from the same world, so that Hypothesis can replay one
            # (to explore around it or to shrink a failure) and get the same responses.
            self.savepoint = transaction.savepoint()
            self.calls = itertools.count()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)
            clear_own_cache()

        def before_call(self, case):
            # As in the per-operation fuzz: every other call names the seller's real objects
            # (the links supply the objects that earlier steps created).
            if case.path_parameters and next(self.calls) % 2 == 0:
                for name in case.path_parameters:
                    value = world.real_value(case.operation.path, name)
                    if value is not None:
                        case.path_parameters[name] = value

        def get_call_kwargs(self, case):
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            if FUZZ_LOG:
                with open(FUZZ_LOG, "a") as log:
                    log.write(f"stateful {case.operation.label} {response.status_code}\n")
            case.validate_response(response, checks=STATEFUL_CHECKS, headers=headers)
            if response.status_code >= 400:
                (content_type,) = response.headers["content-type"]
                assert content_type.startswith("application/problem+json"), (
                    response.status_code,
                    response.text[:500],
                )

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
