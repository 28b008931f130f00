"""Assertions shared by the whole suite, re-exported by tests/conftest.py (registered for pytest's
assertion rewriting in tests/__init__.py, so a failure shows the compared values)."""

from typing import Any

PROBLEM = "application/problem+json"
PROBLEM_TYPE_BASE = "https://errors.marketplace.dev/"


def assert_problem(response: Any, status: int, code: str | None = None) -> dict:
    """An RFC 9457 problem+json error (docs/api.md, "Errors") with this status and, when given,
    this stable code; returns the body for the test's own further checks."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    if code is not None:
        assert body["code"] == code
        assert body["type"] == PROBLEM_TYPE_BASE + code
    return body


def pointers(body: dict) -> set[str]:
    """The JSON pointers of a problem's field errors."""
    return {error["pointer"] for error in body.get("errors", [])}
