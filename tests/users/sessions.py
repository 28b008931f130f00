"""Signing in, refreshing and calling as a session, through the API (token tests share these)."""

from rest_framework.test import APIClient

from tests.users.factories import DEFAULT_PASSWORD


def login(email: str, password: str = DEFAULT_PASSWORD) -> dict:
    response = APIClient().post("/api/v1/auth/login", {"email": email, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def refresh(token: str):
    return APIClient().post("/api/v1/auth/refresh", {"refresh": token})
