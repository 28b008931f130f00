"""The admin's sign-in: the lockout after repeated wrong passwords (django-axes) and TOTP for
staff when ADMIN_REQUIRE_2FA is on (django-otp)."""

import secrets
from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from tests.users.factories import DEFAULT_PASSWORD, UserFactory
from tests.users.test_email_verification import setting_in

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def sign_in(client: Client, email: str, password: str, address: str = "203.0.113.5", **extra):
    return client.post(
        LOGIN, {"username": email, "password": password, **extra}, REMOTE_ADDR=address
    )


@pytest.fixture
def staff_member():
    return UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)


def test_the_sixth_attempt_is_refused_even_with_the_right_password(staff_member):
    client = Client()
    for _ in range(4):
        wrong = sign_in(client, staff_member.email, "not-the-password")
        assert wrong.status_code == 200  # the form again, with its error
    fifth = sign_in(client, staff_member.email, "not-the-password")
    assert fifth.status_code == 429  # the limit reached: locked out from now on
    assert SESSION_KEY not in client.session

    locked = sign_in(client, staff_member.email, DEFAULT_PASSWORD)

    assert locked.status_code == 429
    assert SESSION_KEY not in client.session
    assert client.get("/admin/").status_code == 302  # still signed out
    # from another address the owner still gets in
    other = Client()
    assert sign_in(other, staff_member.email, DEFAULT_PASSWORD, "203.0.113.6").status_code == 302
    assert other.session[SESSION_KEY] == str(staff_member.pk)


def test_after_the_lockout_window_the_right_password_works_and_clears_the_count(staff_member):
    client = Client()
    for _ in range(5):
        sign_in(client, staff_member.email, "not-the-password")
    assert sign_in(client, staff_member.email, DEFAULT_PASSWORD).status_code == 429

    with freeze_time(timedelta(minutes=16)):  # ADMIN_LOCKOUT_MINUTES is 15
        response = sign_in(client, staff_member.email, DEFAULT_PASSWORD)

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(staff_member.pk)
    assert not AccessAttempt.objects.filter(username=staff_member.email).exists()


def test_one_address_trying_many_accounts_is_locked_out(staff_member):
    client = Client()
    for number in range(5):
        sign_in(client, f"guess{number}@example.com", "not-the-password")

    assert sign_in(client, staff_member.email, DEFAULT_PASSWORD).status_code == 429
    assert SESSION_KEY not in client.session


def test_the_address_comes_from_the_trusted_proxy(staff_member, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = Client()
    for _ in range(5):
        client.post(
            LOGIN,
            {"username": staff_member.email, "password": "nope"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR="198.51.100.9",
        )
    # Another client behind the same proxy is not locked out with the first.
    other = client_through_proxy = Client()
    response = client_through_proxy.post(
        LOGIN,
        {"username": staff_member.email, "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.10",
    )
    assert response.status_code == 302
    assert other.session[SESSION_KEY] == str(staff_member.pk)


def test_failed_api_logins_do_not_touch_the_admin_lockout(api_client, staff_member):
    for _ in range(6):
        api_client.post("/api/v1/auth/login", {"email": staff_member.email, "password": "nope"})
    assert not AccessAttempt.objects.exists()
    assert sign_in(Client(), staff_member.email, DEFAULT_PASSWORD, "127.0.0.1").status_code == 302


# --- two-factor


@pytest.fixture
def required(settings):
    settings.ADMIN_REQUIRE_2FA = True


def test_without_a_confirmed_device_staff_cannot_reach_the_admin(required, staff_member):
    TOTPDevice.objects.create(user=staff_member, name="unconfirmed", confirmed=False)
    client = Client()

    response = sign_in(client, staff_member.email, DEFAULT_PASSWORD)

    assert response.status_code == 200  # the form again
    assert SESSION_KEY not in client.session
    # even a session signed in without a code (force_login) is not let in
    client.force_login(staff_member)
    index = client.get("/admin/")
    assert index.status_code == 302
    assert index["Location"].startswith("/admin/login/")


def code_of(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"


def test_with_a_device_the_code_lets_staff_in(required, staff_member):
    device = TOTPDevice.objects.create(user=staff_member, name="phone", confirmed=True)
    client = Client()

    response = sign_in(
        client,
        staff_member.email,
        DEFAULT_PASSWORD,
        otp_device=device.persistent_id,
        otp_token=code_of(device),
    )

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_keeps_staff_out(required, staff_member):
    device = TOTPDevice.objects.create(user=staff_member, name="phone", confirmed=True)
    client = Client()
    wrong = str((int(code_of(device)) + 1) % 1_000_000).zfill(6)

    response = sign_in(
        client,
        staff_member.email,
        DEFAULT_PASSWORD,
        otp_device=device.persistent_id,
        otp_token=wrong,
    )

    assert response.status_code == 200
    assert SESSION_KEY not in client.session
    assert client.get("/admin/").status_code == 302


def test_when_not_required_staff_sign_in_with_the_password_alone(staff_member):
    client = Client()
    assert sign_in(client, staff_member.email, DEFAULT_PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_command_enrols_a_confirmed_device(staff_member):
    out = StringIO()
    call_command("admin_totp_device_add", staff_member.email, "--name", "phone", stdout=out)
    device = TOTPDevice.objects.get(user=staff_member)
    assert device.confirmed
    assert out.getvalue().startswith("otpauth://totp/")


def test_two_factor_is_required_in_production_only(settings):
    strong = secrets.token_urlsafe(64)
    assert setting_in("config.settings.prod", "ADMIN_REQUIRE_2FA", SECRET_KEY=strong) == "True"
    assert setting_in("config.settings.dev", "ADMIN_REQUIRE_2FA") == "False"
    assert settings.ADMIN_REQUIRE_2FA is False
