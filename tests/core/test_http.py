"""CORS, security headers, gzip and the orjson renderer."""

import datetime
import gzip
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal

import orjson
import pytest
from django.test import override_settings

from apps.core.renderers import OrjsonRenderer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]

ORIGIN = "https://shop.example"


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_cors_preflight_allows_configured_origin_and_our_headers(api_client):
    response = api_client.options(
        "/api/v1/test/groups",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, idempotency-key, x-api-key",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    allowed = response["Access-Control-Allow-Headers"].lower()
    for header in ("authorization", "idempotency-key", "x-api-key", "x-cart-token"):
        assert header in allowed


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_cors_exposes_our_response_headers_and_refuses_other_origins(api_client):
    allowed = api_client.get("/api/v1/health/live", HTTP_ORIGIN=ORIGIN)
    assert allowed["Access-Control-Allow-Origin"] == ORIGIN
    exposed = allowed["Access-Control-Expose-Headers"].lower()
    assert {"x-request-id", "x-cart-token", "retry-after"} <= {
        h.strip() for h in exposed.split(",")
    }
    refused = api_client.get("/api/v1/health/live", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in refused


def test_security_headers(api_client):
    response = api_client.get("/api/v1/health/live")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    problem = api_client.get("/api/v1/nowhere")
    assert problem["X-Content-Type-Options"] == "nosniff"


def test_large_responses_are_gzipped_when_accepted(api_client):
    plain = api_client.get("/api/v1/test/big")
    zipped = api_client.get("/api/v1/test/big", HTTP_ACCEPT_ENCODING="gzip")

    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    assert gzip.decompress(zipped.content) == plain.content
    assert len(zipped.content) < len(plain.content) / 5


def test_orjson_renders_decimal_uuid_datetime_and_lazy_text(api_client):
    response = api_client.get("/api/v1/test/render")
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "price": "19.90",
        "id": "12345678-1234-5678-1234-567812345678",
        "at": "2024-05-01T12:30:15Z",
        "day": "2024-05-01",
        "label": "Not found",
        "ttl": "120.0",
        "keys": {"00000000-0000-0000-0000-000000000001": 1},
    }


def test_orjson_renderer_handles_dataclasses_sets_and_none():
    @dataclass
    class Point:
        x: int

    renderer = OrjsonRenderer()
    assert orjson.loads(renderer.render({"p": Point(1), "s": {3}})) == {"p": {"x": 1}, "s": [3]}
    assert renderer.render(None) == b""
    non_utc = datetime.datetime(
        2024, 1, 1, 10, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    assert orjson.loads(renderer.render({"t": non_utc})) == {"t": "2024-01-01T10:00:00+02:00"}


def test_orjson_renderer_refuses_unknown_objects_instead_of_writing_their_str():
    class Secretive:
        def __str__(self) -> str:
            return "internal state"

    with pytest.raises(TypeError):
        OrjsonRenderer().render({"x": Secretive()})
    assert OrjsonRenderer().render({"d": Decimal("0.10"), "u": uuid.UUID(int=0)}) == (
        b'{"d":"0.10","u":"00000000-0000-0000-0000-000000000000"}'
    )
