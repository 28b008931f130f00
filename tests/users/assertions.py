from typing import Any


def assert_problem(response: Any, status: int, code: str) -> dict:
    """An RFC 9457 problem+json error with the given status and stable code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert body["title"]
    assert body["detail"]
    return body


def pointers(body: dict) -> set[str]:
    return {error["pointer"] for error in body.get("errors", [])}
