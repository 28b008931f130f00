"""Request ids and structured JSON logs that never carry secrets."""

import json
import logging

import pytest

from apps.core.logging import redact
from apps.users.services.api_keys import api_key_create
from tests.conftest import auth_client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]


def lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_incoming_request_id_is_echoed(api_client):
    response = api_client.get("/api/v1/health/live", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-Id"] == "abc-123"


@pytest.mark.parametrize("incoming", ["", "has space", "x" * 129, "<script>"])
def test_missing_or_unsafe_request_id_is_replaced(api_client, incoming):
    response = api_client.get("/api/v1/health/live", HTTP_X_REQUEST_ID=incoming)
    assert len(response["X-Request-Id"]) == 32
    assert response["X-Request-Id"] != incoming


def test_errors_carry_the_request_id_header(api_client):
    response = api_client.get("/api/v1/nowhere", HTTP_X_REQUEST_ID="req-404")
    assert response.status_code == 404
    assert response["X-Request-Id"] == "req-404"


def test_log_lines_carry_the_request_id_and_no_secrets(user, json_log):
    _, raw_api_key = api_key_create(name="storefront")
    client = auth_client(user)
    access_token = client._credentials["HTTP_AUTHORIZATION"].split()[1]
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {access_token}",
        HTTP_X_API_KEY=raw_api_key,
        HTTP_COOKIE="sessionid=cookie-secret-value",
        HTTP_X_CART_TOKEN="cart-secret-token",
    )
    response = client.post(
        "/api/v1/test/log?ticket=ticket-secret&page=2",
        {
            "email": "a@example.com",
            "password": "Hunter2-password",
            "new_password": "Another-Secret-9",
            "refresh": "refresh-secret-value",
        },
        format="json",
        HTTP_X_REQUEST_ID="req-log-1",
    )
    assert response.status_code == 200

    output = json_log.getvalue()
    records = [r for r in lines(json_log) if r["logger"] == "tests.core"]
    assert len(records) == 2
    assert {r["request_id"] for r in records} == {"req-log-1"}
    assert {r["level"] for r in records} == {"WARNING"}
    assert "a@example.com" in output  # the rest of the message is kept
    assert "page=2" in output
    for secret in (
        access_token,
        access_token.split(".")[2],
        raw_api_key.split(".")[1],
        "cookie-secret-value",
        "cart-secret-token",
        "Hunter2-password",
        "Another-Secret-9",
        "refresh-secret-value",
        "ticket-secret",
    ):
        assert secret not in output, secret


def test_access_log_line_has_method_path_status_and_duration_but_no_query(
    api_client, json_log, caplog
):
    caplog.set_level(logging.INFO, logger="apps.core.access")
    api_client.get("/api/v1/health/live?ticket=abc", HTTP_X_REQUEST_ID="req-access")
    [record] = [r for r in lines(json_log) if r["logger"] == "apps.core.access"]
    assert record["message"] == "GET /api/v1/health/live 200"
    assert record["method"] == "GET"
    assert record["path"] == "/api/v1/health/live"
    assert record["status_code"] == 200
    assert record["request_id"] == "req-access"
    assert record["duration_ms"] >= 0
    assert "ticket" not in json_log.getvalue()


def test_logs_outside_a_request_have_a_dash(json_log):
    logging.getLogger("tests.core").warning("background work")
    [record] = lines(json_log)
    assert record["request_id"] == "-"
    assert record["message"] == "background work"


def test_exception_text_is_redacted(json_log):
    try:
        raise ValueError("login failed for {'password': 'pw-in-exception'}")
    except ValueError:
        logging.getLogger("tests.core").exception("failed")
    [record] = lines(json_log)
    assert "pw-in-exception" not in json_log.getvalue()
    assert "ValueError" in record["exc"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2&next=/", "password=[redacted]&next=/"),
        ('{"password": "a b c", "email": "x@y.z"}', '{"password": [redacted], "email": "x@y.z"}'),
        ("{'X-Api-Key': 'k1', 'Accept': 'json'}", "{'X-Api-Key': [redacted], 'Accept': 'json'}"),
        ("HTTP_AUTHORIZATION=Basic dXNlcjpwYXNz", "HTTP_AUTHORIZATION=[redacted] [redacted]"),
        ("token eyJhbGciOi.eyJzdWIiOi.sig-part here", "token [redacted] here"),
        ("the password is hunter2", "the password is [redacted]"),
        ("3 tokens revoked", "3 tokens revoked"),
        ("client mk_0a1b2c3d4e5f.s3cr3t-value used", "client mk_0a1b2c3d4e5f.[redacted] used"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected
