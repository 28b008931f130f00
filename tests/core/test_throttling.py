"""Throttles (anonymous, user, API key, login per IP and per email) answer 429 problem+json."""

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from apps.users.services.api_keys import api_key_create
from tests.conftest import auth_client
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]

URL = "/api/v1/test/throttled"
LOGIN = "/api/v1/test/login"


@pytest.fixture
def rates(monkeypatch):
    """Tiny rates. DRF binds THROTTLE_RATES when the module is imported, so override_settings
    cannot change them; patch the dict the throttles read instead."""

    def set_rates(**scopes: str) -> None:
        for scope, rate in scopes.items():
            monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)

    return set_rates


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "throttled"
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["retry_after"] == retry_after
    assert body["detail"] == f"Request was throttled. Retry in {retry_after} seconds."


def test_anonymous_callers_are_throttled_per_ip(rates):
    rates(anon="2/min")
    client = APIClient(REMOTE_ADDR="10.0.0.1")
    assert [client.get(URL).status_code for _ in range(2)] == [200, 200]

    assert_throttled(client.get(URL))
    assert_throttled(client.get(URL, HTTP_X_FORWARDED_FOR="203.0.113.9"))  # not trusted
    assert APIClient(REMOTE_ADDR="10.0.0.2").get(URL).status_code == 200


def test_users_are_throttled_per_user(rates):
    rates(user="2/min", anon="1000/min")
    alice, bob = auth_client(UserFactory()), auth_client(UserFactory())
    assert [alice.get(URL).status_code for _ in range(2)] == [200, 200]

    assert_throttled(alice.get(URL))
    assert bob.get(URL).status_code == 200


def test_anonymous_callers_count_against_the_anon_scope_only(rates):
    rates(user="1/min", anon="1000/min")
    client = APIClient(REMOTE_ADDR="10.0.0.5")
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]


def test_login_is_throttled_per_ip_across_emails(rates):
    rates(login="2/min")
    client = APIClient(REMOTE_ADDR="10.0.0.3")
    assert client.post(LOGIN, {"email": "a@example.com"}, format="json").status_code == 200
    assert client.post(LOGIN, {"email": "b@example.com"}, format="json").status_code == 200
    assert_throttled(client.post(LOGIN, {"email": "c@example.com"}, format="json"))


def test_login_is_throttled_per_email_across_ips(rates):
    rates(login="2/min")
    for ip in ("10.0.1.1", "10.0.1.2"):
        response = APIClient(REMOTE_ADDR=ip).post(LOGIN, {"email": "Victim@Example.com"})
        assert response.status_code == 200
    third = APIClient(REMOTE_ADDR="10.0.1.3").post(LOGIN, {"email": " victim@example.com "})
    assert_throttled(third)
    other = APIClient(REMOTE_ADDR="10.0.1.4").post(LOGIN, {"email": "other@example.com"})
    assert other.status_code == 200


def test_api_keys_are_throttled_at_their_own_rate(rates):
    rates(api_key="1000/min", anon="1000/min")
    _, slow = api_key_create(name="slow partner", rate="2/min")
    _, default = api_key_create(name="storefront")
    slow_client = APIClient(HTTP_X_API_KEY=slow)
    assert [slow_client.get(URL).status_code for _ in range(2)] == [200, 200]

    assert_throttled(slow_client.get(URL))
    default_client = APIClient(HTTP_X_API_KEY=default)
    assert {default_client.get(URL).status_code for _ in range(3)} == {200}


def test_api_key_default_rate_applies_to_keys_without_one(rates):
    rates(api_key="1/min", anon="1000/min")
    _, raw = api_key_create(name="storefront")
    client = APIClient(HTTP_X_API_KEY=raw)
    assert client.get(URL).status_code == 200
    assert_throttled(client.get(URL))
