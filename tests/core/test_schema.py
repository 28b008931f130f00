"""The OpenAPI schema generates cleanly; Swagger UI and Redoc are served without a CDN."""

import re

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

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
    assert set(health["responses"]) == {"200", "503"}
    ref = health["responses"]["503"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/HealthOutput"
    assert health["security"] == [{}]  # no credentials needed


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


def test_schema_endpoint_serves_openapi_3(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")
