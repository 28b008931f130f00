"""Sign-up: its throttles (per address and a global ceiling), the rates from the environment,
and the 409 that does not echo the e-mail."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import SimpleRateThrottle

from apps.users.models import User
from config.settings import base
from tests.assertions import assert_problem
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

STRONG = "plum-orchard-lantern-91"


def signup(client, number: int, address: str = "198.51.100.1"):
    return client.post(
        "/api/v1/auth/signup",
        {"email": f"new{number}@example.com", "password": STRONG, "name": "N"},
        REMOTE_ADDR=address,
    )


def test_signup_is_throttled_per_address(api_client, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "signup", "3/hour")
    for number in range(3):
        assert signup(api_client, number).status_code == 201

    refused = signup(api_client, 3)

    body = assert_problem(refused, 429, "throttled")
    assert int(refused["Retry-After"]) > 60  # the hour's window, not a minute's
    assert body["retry_after"] == int(refused["Retry-After"])
    assert User.objects.count() == 3
    assert not User.objects.filter(email="new3@example.com").exists()
    # another address still signs up
    assert signup(api_client, 4, address="198.51.100.2").status_code == 201


def test_signup_has_a_global_ceiling_across_addresses(api_client, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "signup_global", "3/min")
    for number in range(3):
        assert signup(api_client, number, address=f"198.51.100.{number + 1}").status_code == 201

    refused = signup(api_client, 3, address="198.51.100.200")

    assert_problem(refused, 429, "throttled")
    assert int(refused["Retry-After"]) >= 1
    assert User.objects.count() == 3


def test_attempts_refused_per_address_do_not_use_up_the_global_ceiling(api_client, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "signup", "1/hour")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "signup_global", "3/min")
    assert signup(api_client, 0).status_code == 201
    for number in range(1, 10):
        assert_problem(signup(api_client, number), 429, "throttled")

    assert signup(api_client, 10, address="198.51.100.2").status_code == 201
    assert signup(api_client, 11, address="198.51.100.3").status_code == 201
    assert User.objects.count() == 3


def test_the_test_settings_leave_sign_up_at_sixty_a_minute_or_more():
    from django.conf import settings

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    for scope in ("signup", "signup_global"):
        count, period = rates[scope].split("/")
        assert period.startswith("min")
        assert int(count) >= 60


def test_the_development_settings_leave_sign_up_at_sixty_a_minute_or_more():
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("THROTTLE_") and name != "DJANGO_SETTINGS_MODULE"
    }
    rates = subprocess.run(  # a process of its own: the settings module reads the environment
        [
            sys.executable,
            "-c",
            "import config.settings.dev as s; r = s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'];"
            " print(r['signup'], r['signup_global'])",
        ],
        cwd=base.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert rates == ["60/min", "600/min"]


def test_throttle_rates_come_from_one_environment_setting(monkeypatch):
    monkeypatch.setenv("THROTTLE_RATES", "signup=5/hour, login=20/min")
    monkeypatch.setenv("THROTTLE_ANON", "99/min")  # the per-scope variables still work

    rates = base.throttle_rates()

    assert rates["signup"] == "5/hour"
    assert rates["login"] == "20/min"
    assert rates["anon"] == "99/min"
    assert rates["signup_global"] == base.THROTTLE_DEFAULT_RATES["signup_global"]


def test_throttle_rates_wins_over_the_per_scope_variable(monkeypatch):
    monkeypatch.setenv("THROTTLE_SIGNUP", "7/hour")
    monkeypatch.setenv("THROTTLE_RATES", "signup=5/hour")
    assert base.throttle_rates()["signup"] == "5/hour"


@pytest.mark.parametrize("value", ["sigup=5/hour", "signup=5/fortnight", "signup", "signup=5"])
def test_an_unknown_scope_or_a_malformed_rate_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("THROTTLE_RATES", value)
    with pytest.raises(ImproperlyConfigured):
        base.throttle_rates()


def test_every_scope_is_documented():
    text = (base.BASE_DIR / "docs/security.md").read_text()
    for scope in base.THROTTLE_DEFAULT_RATES:
        assert f"`{scope}`" in text, scope


# --- the taken e-mail


def test_a_taken_email_is_409_without_the_email_in_the_body(api_client):
    UserFactory(email="taken@example.com")

    response = api_client.post(
        "/api/v1/auth/signup", {"email": "Taken@Example.com", "password": STRONG, "name": "X"}
    )

    body = assert_problem(response, 409, "user.email_taken")
    assert "taken@example.com" not in response.content.decode().lower()
    assert "example.com" not in body["detail"]
    assert User.objects.count() == 1
