"""The OpenAPI schema generates cleanly; Swagger UI and Redoc are served without a CDN."""

import re

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from apps.core.openapi import API_KEY_EXEMPT_PATHS

pytestmark = pytest.mark.django_db


def test_schema_generates_and_validates_without_warnings(tmp_path, capsys):
    GENERATOR_STATS.reset()
    target = tmp_path / "schema.yml"
    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    except Exception as exc:
        pytest.fail(f"{exc}\n{capsys.readouterr().err}")
    text = target.read_text()
    assert "/api/v1/health:" in text
    assert "/api/v1/health/live:" in text


def test_every_path_is_versioned_and_errors_are_problem_json():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["paths"]
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and path != "/api/v1/health":
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )


def test_health_is_documented_with_its_503():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    health = schema["paths"]["/api/v1/health"]["get"]
    # 429: throttled per client address (THROTTLE_HEALTH), a problem+json like every 429.
    assert set(health["responses"]) == {"200", "429", "503"}
    assert list(health["responses"]["429"]["content"]) == ["application/problem+json"]
    ref = health["responses"]["503"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/HealthOutput"
    # No credentials needed; an X-Api-Key sent along is checked (and required with
    # REQUIRE_API_KEY=true).
    assert health["security"] == [{}, {"apiKeyAuth": []}]


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_x_api_key_is_a_security_scheme_optional_by_default():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["components"]["securitySchemes"]["apiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": schema["components"]["securitySchemes"]["apiKeyAuth"]["description"],
    }
    orders = schema["paths"]["/api/v1/orders"]["get"]
    assert orders["security"] == [{"bearerAuth": []}, {"bearerAuth": [], "apiKeyAuth": []}]
    # The liveness probe never looks at the key.
    assert schema["paths"]["/api/v1/health/live"]["get"]["security"] == [{}]


def test_with_require_api_key_every_operation_but_liveness_needs_the_key(settings):
    settings.REQUIRE_API_KEY = True
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, method, operation in operations(schema):
        if path in API_KEY_EXEMPT_PATHS:  # liveness, the Stripe webhook
            assert operation["security"] == [{}]
            continue
        assert operation["security"], (method, path)
        assert all("apiKeyAuth" in requirement for requirement in operation["security"]), (
            method,
            path,
        )
    cart = schema["paths"]["/api/v1/cart"]["get"]
    assert cart["security"] == [{"bearerAuth": [], "apiKeyAuth": []}, {"apiKeyAuth": []}]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/cart"),
        ("delete", "/api/v1/cart"),
        ("post", "/api/v1/cart/items"),
        ("patch", "/api/v1/cart/items/{item_id}"),
        ("delete", "/api/v1/cart/items/{item_id}"),
        ("get", "/api/v1/shops/{shop}/discounts"),
        ("get", "/api/v1/discounts/{code}/products"),
        ("get", "/api/v1/products"),
        ("get", "/api/v1/products/{ident}"),
        ("get", "/api/v1/categories"),
        ("get", "/api/v1/shops"),
        ("get", "/api/v1/products/{product_ref}/reviews"),
        ("post", "/api/v1/auth/login"),
        ("get", "/api/v1/"),
    ],
)
def test_guest_operations_declare_optional_authentication(method, path):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert {} in schema["paths"][path][method]["security"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/cart/merge"),  # the user's cart: bearer and the guest's X-Cart-Token
        ("post", "/api/v1/orders"),
        ("post", "/api/v1/checkout/review"),
        ("get", "/api/v1/me"),
        ("post", "/api/v1/products"),
    ],
)
def test_user_operations_declare_the_bearer_token_as_required(method, path):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert all(
        "bearerAuth" in requirement for requirement in schema["paths"][path][method]["security"]
    )


def test_json_operations_declare_json_bodies_and_only_uploads_declare_multipart():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    bodies = {
        (method, path): list(operation["requestBody"]["content"])
        for path, method, operation in operations(schema)
        if "requestBody" in operation
    }
    assert bodies
    # One content type per body: JSON, or multipart for an upload (a view that sets
    # parser_classes = (MultiPartParser,)); never the form types of DRF's default parsers.
    assert {key: types for key, types in bodies.items() if len(types) != 1} == {}
    uploads = {key for key, types in bodies.items() if types == ["multipart/form-data"]}
    assert ("post", "/api/v1/media") in uploads
    assert all(types == ["application/json"] for key, types in bodies.items() if key not in uploads)


def test_attribute_filters_have_a_parameter_a_generator_can_express():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    parameters = schema["paths"]["/api/v1/products"]["get"]["parameters"]
    [attr] = [p for p in parameters if p["name"].startswith("attr")]
    assert attr["name"] == "attr"
    assert attr["in"] == "query"
    assert attr["schema"] == {"type": "array", "items": {"type": "string"}}
    assert attr["explode"] is True
    assert attr["style"] == "form"


@pytest.mark.urls("tests.core.urls")
def test_problem_responses_helper_and_implied_responses():
    from tests.core.urls import test_patterns

    schema = SchemaGenerator(patterns=test_patterns).get_schema(request=None, public=True)
    operation = schema["paths"]["/groups"]["post"]
    responses = operation["responses"]
    assert list(responses["201"]["content"]) == ["application/json"]
    for status in ("400", "403", "404", "409", "422", "429"):
        assert list(responses[status]["content"]) == ["application/problem+json"], status
        ref = responses[status]["content"]["application/problem+json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/Problem"
    assert "`test.group_exists`" in responses["409"]["description"]
    assert "`idempotency.key_reused`" in responses["422"]["description"]
    assert responses["403"]["description"] == "`test.forbidden`"  # content filled in
    assert "401" not in responses  # AllowAny
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert header.get("required", False) is False


@pytest.mark.parametrize(
    ("url", "asset"),
    [
        ("/api/docs/", "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/api/redoc/", "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"),
    ],
)
def test_docs_pages_are_served_from_the_sidecar_without_a_cdn(api_client, url, asset):
    response = api_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert asset in html
    assert "/api/schema/" in html
    external = re.findall(r"""(?:src|href)=["'](?:https?:)?//[^"']+""", html)
    assert external == []
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "googleapis"):
        assert cdn not in html
    # What the bundles themselves would fetch (Redoc renders a logo from a CDN) the browser
    # refuses: every fetch directive allows this server only.
    policy = dict(
        directive.split(" ", 1) for directive in response["Content-Security-Policy"].split("; ")
    )
    assert policy["default-src"] == "'self'"
    for directive in ("script-src", "style-src", "img-src", "font-src", "connect-src"):
        sources = policy[directive].split()
        assert sources[0] == "'self'"
        assert all(source in ("'self'", "'unsafe-inline'", "data:", "blob:") for source in sources)


def test_schema_endpoint_serves_openapi_3(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")
