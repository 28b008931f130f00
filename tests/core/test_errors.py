"""Every error is RFC 9457 application/problem+json with a stable code."""

import json
import uuid

import pytest
from django.test import override_settings

from apps.core.errors import Conflict
from apps.core.exceptions import problem, problem_exception_handler
from tests.assertions import assert_problem
from tests.conftest import auth_client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]

PROBLEM = "application/problem+json"


def test_unknown_api_route_is_404_problem(api_client):
    body = assert_problem(api_client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert body["detail"] == "No endpoint at /api/v1/no-such-thing."


@override_settings(DEBUG=True)
def test_unknown_api_route_is_problem_even_in_debug(api_client):
    assert_problem(api_client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_unknown_non_api_route_stays_html(api_client):
    response = api_client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_http404_inside_a_view_is_problem(api_client):
    assert_problem(api_client.get("/api/v1/test/missing"), 404, "not_found")


def test_method_not_allowed_is_405_problem_with_allow(api_client):
    response = api_client.delete("/api/v1/health/live")
    body = assert_problem(response, 405, "request.method_not_allowed")
    assert body["detail"] == 'Method "DELETE" not allowed.'
    assert "GET" in response["Allow"]


def test_malformed_json_is_400_request_malformed(api_client):
    response = api_client.post(
        "/api/v1/test/echo", data='{"items": [', content_type="application/json"
    )
    body = assert_problem(response, 400, "request.malformed")
    assert body["detail"].startswith("JSON parse error")
    assert "errors" not in body


def test_unsupported_media_type_is_415(api_client):
    response = api_client.post("/api/v1/test/echo", data="items=1", content_type="text/plain")
    body = assert_problem(response, 415, "request.unsupported_media_type")
    assert "text/plain" in body["detail"]


def test_validation_errors_point_at_nested_fields_and_list_items(api_client):
    response = api_client.post(
        "/api/v1/test/echo",
        {
            "items": [{"variant_id": "nope", "quantity": 0}, {"variant_id": str(uuid.uuid4())}],
            "address": {"country": "USA"},
            "tags": [1, "x"],
        },
        format="json",
    )
    body = assert_problem(response, 400, "invalid")
    assert sorted((e["pointer"], e["code"]) for e in body["errors"]) == [
        ("/address/city", "required"),
        ("/address/country", "max_length"),
        ("/items/0/quantity", "min_value"),
        ("/items/0/variant_id", "invalid"),
        ("/items/1/quantity", "required"),
        ("/tags/1", "invalid"),
    ]
    assert all(e["detail"] for e in body["errors"])
    assert body["detail"].startswith("/")


def test_object_level_validation_error_points_at_the_root(api_client):
    response = api_client.post(
        "/api/v1/test/echo",
        {
            "items": [{"variant_id": str(uuid.uuid4()), "quantity": 1}],
            "address": {"city": "Oslo", "country": "NO"},
            "tags": [13],
        },
        format="json",
    )
    body = assert_problem(response, 400, "invalid")
    assert body["errors"] == [{"pointer": "", "code": "invalid", "detail": "unlucky"}]


def test_valid_input_passes(api_client):
    variant = str(uuid.uuid4())
    response = api_client.post(
        "/api/v1/test/echo",
        {
            "items": [{"variant_id": variant, "quantity": 2}],
            "address": {"city": "Oslo", "country": "NO"},
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["items"] == [{"variant_id": variant, "quantity": 2}]


def test_no_token_is_401_with_www_authenticate(api_client):
    response = api_client.get("/api/v1/test/private")
    body = assert_problem(response, 401, "auth.not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert body["detail"] == "Authentication credentials were not provided."


def test_bad_token_is_401_and_the_token_is_not_echoed(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt-secret-value")
    response = api_client.get("/api/v1/test/private")
    body = assert_problem(response, 401, "auth.authentication_failed")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert body["detail"] == "Given token not valid for any token type"
    assert "secret-value" not in response.content.decode()


def test_valid_token_passes(user):
    response = auth_client(user).get("/api/v1/test/private")
    assert response.status_code == 200
    assert response.json() == {"user": str(user.pk)}


def test_wrong_role_is_403(user_client, staff_client):
    assert_problem(user_client.get("/api/v1/test/staff"), 403, "permission_denied")
    assert staff_client.get("/api/v1/test/staff").status_code == 200


def test_domain_error_carries_its_code_and_extra_fields_but_cannot_fake_status(api_client):
    body = assert_problem(api_client.post("/api/v1/test/rule", {}), 422, "test.out_of_stock")
    assert body["detail"] == "Only 2 left."
    assert body["title"] == "Out of stock"
    assert body["available"] == 2


def test_problem_extra_members_never_override_standard_members():
    body = problem(status=409, code="conflict", title="Conflict", detail="x", status_=1, code_=2)
    assert (body["status"], body["code"]) == (409, "conflict")
    response = problem_exception_handler(Conflict("busy", status=200, type="evil"), {})
    assert response.status_code == 409
    assert response.data["type"] == "https://errors.marketplace.dev/conflict"


def test_unexpected_exception_is_generic_500_logged_with_request_id(api_client, json_log):
    response = api_client.get("/api/v1/test/boom", HTTP_X_REQUEST_ID="req-boom-1")
    body = assert_problem(response, 500, "server_error")
    assert body["request_id"] == "req-boom-1"
    assert response["X-Request-Id"] == "req-boom-1"
    text = response.content.decode()
    assert "kaboom" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text

    records = [json.loads(line) for line in json_log.getvalue().splitlines()]
    errors = [r for r in records if r["logger"] == "apps.core.errors"]
    assert len(errors) == 1
    assert errors[0]["level"] == "ERROR"
    assert errors[0]["request_id"] == "req-boom-1"
    assert errors[0]["message"] == "Unhandled RuntimeError in GET /api/v1/test/boom"
    assert "Traceback" in errors[0]["exc"]
    assert "hunter2" not in json_log.getvalue()  # "password is hunter2" is masked
    django_line = next(r for r in records if r["logger"] == "django.request")
    assert django_line["request_id"] == "req-boom-1"
    assert django_line["status_code"] == 500


def test_django_handler500_answers_problem_json_for_api_paths(rf):
    from apps.core.views import server_error

    request = rf.get("/api/v1/anything")
    request.request_id = "abc"
    response = server_error(request)
    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    assert json.loads(response.content)["request_id"] == "abc"
    assert server_error(rf.get("/shop"))["Content-Type"].startswith("text/html")


def test_too_large_body_is_413_problem(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = api_client.post(
        "/api/v1/test/echo", data=json.dumps({"pad": "x" * 500}), content_type="application/json"
    )
    assert_problem(response, 413, "request.too_large")


def test_an_unreachable_database_is_503_with_retry_after_not_a_500(api_client, caplog):
    response = api_client.get("/api/v1/test/database-down")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "1"
    body = response.json()
    assert (body["code"], body["retry_after"]) == ("service.database_unavailable", 1)
    assert "5432" not in response.content.decode()  # no detail of the connection leaks
    assert [r.levelname for r in caplog.records if r.name == "apps.core.errors"] == ["WARNING"]
