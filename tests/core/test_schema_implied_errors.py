"""The schema documents the errors every operation can give (found missing by the schemathesis
conformance run, tests/flows/test_api_fuzz.py with FUZZ_CONFORMANCE=1)."""

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_an_object_in_the_path_can_be_404(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(schema)
        if "{" in path and "404" not in operation["responses"]
    ]
    assert missing == []


def test_validated_query_strings_can_be_400(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(schema)
        if any(p["in"] == "query" for p in operation.get("parameters", []))
        and "400" not in operation["responses"]
    ]
    assert missing == []


def test_the_implied_errors_are_problem_json(schema):
    operation = schema["paths"]["/api/v1/products/{ident}/variants/{variant_id}"]["delete"]
    for status in ("401", "403", "404", "409"):
        assert list(operation["responses"][status]["content"]) == ["application/problem+json"]
    assert "`catalog.last_variant`" in operation["responses"]["409"]["description"]


def test_paged_discount_lists_are_documented_as_pages(schema):
    for path in (
        "/api/v1/seller/discounts",
        "/api/v1/shops/{shop}/discounts",
        "/api/v1/discounts/{code}/products",
    ):
        body = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        ref = body["schema"]["$ref"].rsplit("/", 1)[1]
        assert ref.startswith("Paginated"), path
        assert set(schema["components"]["schemas"][ref]["properties"]) == {
            "count",
            "next",
            "previous",
            "results",
        }


def test_cart_documents_its_refusals(schema):
    responses = schema["paths"]["/api/v1/cart/items"]["post"]["responses"]
    assert "`cart.variant_not_found`" in responses["404"]["description"]
    assert "`inventory.insufficient_stock`" in responses["409"]["description"]


def test_writes_an_unverified_account_may_not_make_document_the_refusal(schema):
    gated = [
        ("/api/v1/orders", "post"),
        ("/api/v1/products/{product_ref}/reviews", "post"),
        ("/api/v1/products/{product_ref}/comments", "post"),
        ("/api/v1/media", "post"),
        ("/api/v1/media/from-url", "post"),
        ("/api/v1/media/presign", "post"),
        ("/api/v1/notifications/stream-ticket", "post"),
    ]
    for path, method in gated:
        responses = schema["paths"][path][method]["responses"]
        assert "`auth.email_unverified`" in responses["403"]["description"], path
        assert list(responses["403"]["content"]) == ["application/problem+json"]
    # reads stay open to unverified accounts
    assert "403" not in schema["paths"]["/api/v1/orders"]["get"]["responses"]


def test_the_verification_endpoints_are_documented(schema):
    verify = schema["paths"]["/api/v1/auth/verify-email"]["post"]
    assert set(verify["responses"]) >= {"204", "400"}
    assert "`auth.invalid_verification_token`" in verify["responses"]["400"]["description"]
    resend = schema["paths"]["/api/v1/auth/verify-email/resend"]["post"]
    assert set(resend["responses"]) >= {"202", "401", "429"}
    signup = schema["paths"]["/api/v1/auth/signup"]["post"]
    assert "`throttled`" in signup["responses"]["429"]["description"]
