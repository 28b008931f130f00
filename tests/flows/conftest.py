"""Cross-app journeys run through the HTTP API only, with after-commit work (event relay,
notifications, thumbnails) executed as it would be after each request's commit."""

import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from rest_framework.test import APIClient

from tests.media.conftest import _media_settings  # noqa: F401 (autouse: own media dir per test)

PROBLEM = "application/problem+json"
PASSWORD = "A-long-pass-phrase-1"


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


class Api:
    """An APIClient whose every request also runs the after-commit callbacks it scheduled."""

    def __init__(self, capture: Callable[..., Any]) -> None:
        self.client = APIClient()
        self._capture = capture

    def authenticate(self, access: str) -> None:
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")

    def as_user(self, user: Any) -> "Api":
        """Sign this client in as an existing user (made by a factory)."""
        from apps.users.services.sessions import session_tokens_issue

        self.authenticate(session_tokens_issue(user=user)["access"])
        return self

    def _call(self, method: str, path: str, data: Any = None, **extra: Any) -> Any:
        with self._capture(execute=True):
            return getattr(self.client, method)(path, data, **extra)

    def get(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self._call("get", path, data, **extra)

    def post(self, path: str, data: Any = None, **extra: Any) -> Any:
        extra.setdefault("format", "json")
        return self._call("post", path, data, **extra)

    def patch(self, path: str, data: Any = None, **extra: Any) -> Any:
        extra.setdefault("format", "json")
        return self._call("patch", path, data, **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self._call("delete", path, None, **extra)

    def signup(self, email: str, name: str) -> dict[str, Any]:
        response = self.post(
            "/api/v1/auth/signup", {"email": email, "password": PASSWORD, "name": name}
        )
        assert response.status_code == 201, response.content
        body = response.json()
        self.authenticate(body["access"])
        return body

    def login(self, email: str) -> dict[str, Any]:
        response = self.post("/api/v1/auth/login", {"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.content
        body = response.json()
        self.authenticate(body["access"])
        return body


@pytest.fixture
def new_api(django_capture_on_commit_callbacks) -> Callable[[], Api]:
    return lambda: Api(django_capture_on_commit_callbacks)
