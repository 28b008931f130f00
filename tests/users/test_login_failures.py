"""Failed logins per (e-mail, client address): the pair is locked with a growing back-off, the
right password included, while the owner still signs in from another address."""

from datetime import timedelta

import pytest
from freezegun import freeze_time
from rest_framework.throttling import SimpleRateThrottle

from apps.users.models import Session
from tests.assertions import assert_problem
from tests.users.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ATTACKER = "198.51.100.66"
OWNER = "203.0.113.10"


@pytest.fixture(autouse=True)
def rates(settings, monkeypatch):
    """Three failures per pair; the per-address attempt throttle out of the way."""
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login", "1000/min")
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login_failure": "3/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    settings.LOGIN_BACKOFF_BASE_SECONDS = 60
    settings.LOGIN_BACKOFF_MAX_SECONDS = 3600


@pytest.fixture
def owner():
    return UserFactory(email="owner@example.com")


def login(client, password: str, address: str = ATTACKER, email: str = "owner@example.com"):
    return client.post(
        "/api/v1/auth/login", {"email": email, "password": password}, REMOTE_ADDR=address
    )


def fail(client, times: int, address: str = ATTACKER) -> None:
    for _ in range(times):
        assert login(client, "wrong-guess", address).status_code == 401


@freeze_time("2026-03-01 12:00:00")
def test_the_pair_is_locked_even_for_the_right_password_but_not_the_owner(api_client, owner):
    fail(api_client, 3)

    locked = login(api_client, DEFAULT_PASSWORD)

    body = assert_problem(locked, 429, "throttled")
    assert locked["Retry-After"] == "60"
    assert body["retry_after"] == 60
    assert not Session.objects.exists()  # no session was started
    from_elsewhere = login(api_client, DEFAULT_PASSWORD, address=OWNER)
    assert from_elsewhere.status_code == 200
    assert Session.objects.filter(user=owner).count() == 1


def test_the_back_off_doubles_with_each_lockout(api_client, owner):
    with freeze_time("2026-03-01 12:00:00") as clock:
        fail(api_client, 3)
        assert login(api_client, DEFAULT_PASSWORD)["Retry-After"] == "60"

        clock.tick(timedelta(seconds=61))
        fail(api_client, 3)
        assert login(api_client, DEFAULT_PASSWORD)["Retry-After"] == "120"

        clock.tick(timedelta(seconds=121))
        fail(api_client, 3)
        third = login(api_client, DEFAULT_PASSWORD)
        assert_problem(third, 429, "throttled")
        assert third["Retry-After"] == "240"

        clock.tick(timedelta(seconds=241))
        assert login(api_client, DEFAULT_PASSWORD).status_code == 200


def test_a_success_clears_the_count(api_client, owner):
    fail(api_client, 2)
    assert login(api_client, DEFAULT_PASSWORD).status_code == 200
    fail(api_client, 2)
    assert login(api_client, DEFAULT_PASSWORD).status_code == 200


def test_other_emails_from_the_same_address_are_not_locked(api_client, owner):
    UserFactory(email="neighbour@example.com")
    fail(api_client, 3)

    response = login(api_client, DEFAULT_PASSWORD, email="neighbour@example.com")

    assert response.status_code == 200


def test_unknown_emails_are_counted_alike(api_client):
    for _ in range(3):
        assert login(api_client, "x", email="nobody@example.com").status_code == 401
    assert_problem(login(api_client, "x", email="nobody@example.com"), 429, "throttled")


def test_the_address_throttle_still_counts_every_attempt(api_client, owner, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login", "2/min")
    assert login(api_client, "a", email="one@example.com").status_code == 401
    assert login(api_client, "b", email="two@example.com").status_code == 401
    assert_problem(login(api_client, DEFAULT_PASSWORD), 429, "throttled")
