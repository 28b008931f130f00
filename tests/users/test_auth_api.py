import re
import uuid

import pytest
from django.core import mail
from rest_framework.test import APIClient
from rest_framework_simplejwt.state import token_backend

from apps.users.models import Session, User
from tests.assertions import assert_problem, pointers
from tests.conftest import auth_client
from tests.shops.factories import ShopFactory
from tests.users.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "plum-orchard-lantern-91"


def login(client: APIClient, email: str, password: str = DEFAULT_PASSWORD):
    return client.post("/api/v1/auth/login", {"email": email, "password": password})


# --- signup


def test_signup_creates_user_and_returns_tokens(api_client):
    response = api_client.post(
        "/api/v1/auth/signup", {"email": "New@Example.com", "password": STRONG, "name": "Neo"}
    )
    assert response.status_code == 201
    body = response.json()
    user = User.objects.get()
    assert user.email == "new@example.com"
    assert user.check_password(STRONG)
    assert body["user"] == {
        "id": str(user.pk),
        "email": "new@example.com",
        "name": "Neo",
        "phone": "",
        "roles": ["customer"],
        "shop": None,
        "email_verified": False,
    }
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.get("/api/v1/me").json()["email"] == "new@example.com"
    assert list(Session.objects.filter(user=user).values_list("pk", flat=True)) == [
        uuid.UUID(token_backend.decode(body["refresh"])["sid"])
    ]


def test_signup_taken_email_is_409_case_insensitive(api_client):
    UserFactory(email="taken@example.com")
    response = api_client.post(
        "/api/v1/auth/signup", {"email": "TAKEN@example.com", "password": STRONG, "name": "X"}
    )
    assert_problem(response, 409, "user.email_taken")
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1", "password_too_short"),
        ("password", "password_too_common"),
        ("83920174659", "password_entirely_numeric"),
    ],
)
def test_signup_weak_password_is_400_with_pointer(api_client, password, code):
    response = api_client.post(
        "/api/v1/auth/signup", {"email": "weak@example.com", "password": password}
    )
    body = assert_problem(response, 400, "invalid")
    assert pointers(body) == {"/password"}
    assert code in {error["code"] for error in body["errors"]}
    assert not User.objects.exists()


def test_signup_refuses_a_name_that_is_not_one_line(api_client):
    response = api_client.post(
        "/api/v1/auth/signup",
        {"email": "neo@example.com", "password": STRONG, "name": "Neo\r\nX-Injected: 1"},
    )
    body = assert_problem(response, 400, "invalid")
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [("/name", "control_characters")]
    assert not User.objects.exists()


def test_signup_password_similar_to_email_is_refused(api_client):
    response = api_client.post(
        "/api/v1/auth/signup",
        {"email": "marvellous.otter@example.com", "password": "marvellous.otter"},
    )
    body = assert_problem(response, 400, "invalid")
    assert "password_too_similar" in {error["code"] for error in body["errors"]}


def test_signup_missing_and_bad_fields(api_client):
    response = api_client.post("/api/v1/auth/signup", {"email": "not-an-email"})
    body = assert_problem(response, 400, "invalid")
    assert pointers(body) == {"/email", "/password"}


def test_signup_ignores_privilege_fields(api_client):
    response = api_client.post(
        "/api/v1/auth/signup",
        {"email": "sneaky@example.com", "password": STRONG, "is_staff": True, "roles": ["staff"]},
    )
    assert response.status_code == 201
    assert response.json()["user"]["roles"] == ["customer"]
    assert not User.objects.get().is_staff


# --- login


def test_login_returns_user_with_shop_and_tokens(api_client):
    shop = ShopFactory(owner__email="seller@example.com")
    response = login(api_client, "Seller@Example.com")
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["roles"] == ["customer", "seller"]
    assert body["user"]["shop"] == {"id": str(shop.pk), "slug": shop.slug, "name": shop.name}
    assert body["access"]
    assert body["refresh"]
    shop.owner.refresh_from_db()
    assert shop.owner.last_login is not None


@pytest.mark.parametrize("email", ["known@example.com", "unknown@example.com"])
def test_login_wrong_credentials_is_401_same_answer(api_client, email):
    UserFactory(email="known@example.com")
    response = login(api_client, email, "wrong-password")
    body = assert_problem(response, 401, "auth.invalid_credentials")
    assert body["detail"] == "The email or password is wrong."
    assert not Session.objects.exists()


def test_login_inactive_user_is_401(api_client):
    UserFactory(email="gone@example.com", is_active=False)
    assert_problem(login(api_client, "gone@example.com"), 401, "auth.invalid_credentials")


def test_failures_from_other_addresses_do_not_lock_the_owner_out(api_client):
    # The per-email throttle this replaced let anyone lock an owner out: ten wrong passwords from
    # ten addresses refused the owner's right one. Failures now count per (email, address).
    UserFactory(email="victim@example.com")
    for number in range(10):
        response = api_client.post(
            "/api/v1/auth/login",
            {"email": "victim@example.com", "password": "guess"},
            REMOTE_ADDR=f"10.0.0.{number + 1}",
        )
        assert response.status_code == 401
    response = api_client.post(
        "/api/v1/auth/login",
        {"email": "victim@example.com", "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="10.0.0.99",
    )
    assert response.status_code == 200


def test_login_is_throttled_per_ip(api_client):
    for number in range(10):
        response = login(api_client, f"spray{number}@example.com", "guess")
        assert response.status_code == 401
    assert_problem(login(api_client, "other@example.com", "guess"), 429, "throttled")
    other_ip = api_client.post(
        "/api/v1/auth/login",
        {"email": "fresh@example.com", "password": "guess"},
        REMOTE_ADDR="192.0.2.7",
    )
    assert other_ip.status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/auth/password-reset"])
def test_a_json_array_body_is_400_not_a_throttle_crash(api_client, path):
    # The per-email throttle read `request.data.get(...)`: a list body was a 500.
    response = api_client.post(path, [{"email": "a@example.com"}], format="json")
    assert pointers(assert_problem(response, 400, "invalid")) == {""}


# --- refresh, rotation and reuse


def test_refresh_rotates_and_replaces_the_sessions_token(api_client, user):
    first = login(api_client, user.email).json()
    response = api_client.post("/api/v1/auth/refresh", {"refresh": first["refresh"]})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] != first["refresh"]
    session = Session.objects.get(user=user)
    assert session.refresh_jti == token_backend.decode(body["refresh"])["jti"]
    assert session.ended_at is None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert client.get("/api/v1/me").status_code == 200


def test_refresh_token_reuse_revokes_the_whole_family(api_client, user):
    r1 = login(api_client, user.email).json()["refresh"]
    r2 = api_client.post("/api/v1/auth/refresh", {"refresh": r1}).json()["refresh"]
    other_session = login(api_client, user.email).json()["refresh"]

    reused = api_client.post("/api/v1/auth/refresh", {"refresh": r1})
    assert_problem(reused, 401, "auth.token_reused")

    # The reuse ended every session: their tokens are refused as revoked (not as reuse again,
    # which would let an old token end the sessions opened since).
    assert_problem(
        api_client.post("/api/v1/auth/refresh", {"refresh": r2}), 401, "auth.token_revoked"
    )
    assert_problem(
        api_client.post("/api/v1/auth/refresh", {"refresh": other_session}),
        401,
        "auth.token_revoked",
    )
    assert list(Session.objects.filter(user=user).values_list("ended_reason", flat=True)) == [
        "token_reuse",
        "token_reuse",
    ]


def test_reuse_does_not_touch_other_users(api_client, user):
    bystander = UserFactory()
    theirs = login(api_client, bystander.email).json()["refresh"]
    r1 = login(api_client, user.email).json()["refresh"]
    api_client.post("/api/v1/auth/refresh", {"refresh": r1})
    api_client.post("/api/v1/auth/refresh", {"refresh": r1})
    assert api_client.post("/api/v1/auth/refresh", {"refresh": theirs}).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
def test_refresh_invalid_token_is_401(api_client, token):
    assert_problem(
        api_client.post("/api/v1/auth/refresh", {"refresh": token}), 401, "auth.token_invalid"
    )


def test_refresh_with_access_token_is_401(api_client, user):
    access = login(api_client, user.email).json()["access"]
    assert_problem(
        api_client.post("/api/v1/auth/refresh", {"refresh": access}), 401, "auth.token_invalid"
    )


def test_refresh_missing_field_is_400(api_client):
    body = assert_problem(api_client.post("/api/v1/auth/refresh", {}), 400, "invalid")
    assert pointers(body) == {"/refresh"}


def test_refresh_for_deactivated_user_is_401(api_client, user):
    refresh = login(api_client, user.email).json()["refresh"]
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_problem(
        api_client.post("/api/v1/auth/refresh", {"refresh": refresh}), 401, "auth.token_invalid"
    )


# --- logout


def test_logout_ends_that_session_only(api_client, user):
    one = login(api_client, user.email).json()
    two = login(api_client, user.email).json()
    client = auth_client(user)
    response = client.post("/api/v1/auth/logout", {"refresh": one["refresh"]})
    assert response.status_code == 204
    assert response.content == b""
    # a logged-out token is refused as revoked, not as reuse: session two goes on
    assert_problem(
        api_client.post("/api/v1/auth/refresh", {"refresh": one["refresh"]}),
        401,
        "auth.token_revoked",
    )
    assert api_client.post("/api/v1/auth/refresh", {"refresh": two["refresh"]}).status_code == 200


def test_logout_is_idempotent(api_client, user):
    refresh = login(api_client, user.email).json()["refresh"]
    client = auth_client(user)
    assert client.post("/api/v1/auth/logout", {"refresh": refresh}).status_code == 204
    assert client.post("/api/v1/auth/logout", {"refresh": refresh}).status_code == 204
    assert sorted(Session.objects.values_list("ended_reason", flat=True)) == ["", "logout"]


def test_logout_someone_elses_token_is_400_and_changes_nothing(api_client, user):
    victim = UserFactory()
    theirs = login(api_client, victim.email).json()["refresh"]
    response = auth_client(user).post("/api/v1/auth/logout", {"refresh": theirs})
    body = assert_problem(response, 400, "invalid")
    assert pointers(body) == {"/refresh"}
    assert not Session.objects.filter(ended_at__isnull=False).exists()


def test_logout_requires_authentication(api_client):
    response = api_client.post("/api/v1/auth/logout", {"refresh": "x"})
    assert_problem(response, 401, "auth.not_authenticated")


def test_logout_all_revokes_every_session(api_client, user):
    sessions = [login(api_client, user.email).json()["refresh"] for _ in range(3)]
    assert auth_client(user).post("/api/v1/auth/logout-all").status_code == 204
    for refresh in sessions:
        assert api_client.post("/api/v1/auth/refresh", {"refresh": refresh}).status_code == 401
    # the three logins plus the session auth_client started: all ended
    assert (
        list(Session.objects.filter(user=user).values_list("ended_reason", flat=True))
        == ["logout_all"] * 4
    )


def test_logout_all_requires_authentication(api_client):
    assert_problem(api_client.post("/api/v1/auth/logout-all"), 401, "auth.not_authenticated")


# --- password reset


def _reset_link_from_mail() -> tuple[str, str]:
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    uid = re.search(r"uid=([^&\s]+)", body).group(1)
    token = re.search(r"token=([^&\s]+)", body).group(1)
    return uid, token


def test_password_reset_sends_one_time_link_and_revokes_sessions(
    api_client, user, django_capture_on_commit_callbacks
):
    session = login(api_client, user.email).json()["refresh"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/auth/password-reset", {"email": user.email.upper()})
    assert response.status_code == 202
    assert mail.outbox[0].to == [user.email]
    assert "Reset your" in mail.outbox[0].subject
    uid, token = _reset_link_from_mail()

    confirm = api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": STRONG},
    )
    assert confirm.status_code == 204
    user.refresh_from_db()
    assert user.check_password(STRONG)
    assert api_client.post("/api/v1/auth/refresh", {"refresh": session}).status_code == 401
    assert login(api_client, user.email, STRONG).status_code == 200

    again = api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": "another-" + STRONG},
    )
    assert_problem(again, 400, "auth.invalid_reset_token")
    user.refresh_from_db()
    assert user.check_password(STRONG)


def test_password_reset_unknown_email_is_202_and_sends_nothing(
    api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/auth/password-reset", {"email": "ghost@example.com"})
    assert response.status_code == 202
    assert response.content == b""
    assert mail.outbox == []


def test_password_reset_bad_email_is_400(api_client):
    body = assert_problem(
        api_client.post("/api/v1/auth/password-reset", {"email": "nope"}), 400, "invalid"
    )
    assert pointers(body) == {"/email"}


@pytest.mark.parametrize(("uid", "token"), [("bad", "bad"), ("MTIz", "abc-def"), ("", "x")])
def test_password_reset_confirm_bad_token(api_client, user, uid, token):
    response = api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": STRONG},
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] in {"auth.invalid_reset_token", "invalid"}
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_reset_confirm_wrong_token_for_real_user(api_client, user):
    from apps.users.services.accounts import password_reset_link

    uid, _ = password_reset_link(user=user)
    response = api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": "5x3-0123456789abcdef0123", "new_password": STRONG},
    )
    assert_problem(response, 400, "auth.invalid_reset_token")


def test_password_reset_confirm_weak_password(api_client, user):
    from apps.users.services.accounts import password_reset_link

    uid, token = password_reset_link(user=user)
    response = api_client.post(
        "/api/v1/auth/password-reset/confirm", {"uid": uid, "token": token, "new_password": "123"}
    )
    body = assert_problem(response, 400, "invalid")
    assert pointers(body) == {"/new_password"}
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_reset_is_throttled_per_email(api_client, user):
    for number in range(10):
        response = api_client.post(
            "/api/v1/auth/password-reset", {"email": user.email}, REMOTE_ADDR=f"10.1.0.{number}"
        )
        assert response.status_code == 202
    response = api_client.post(
        "/api/v1/auth/password-reset", {"email": user.email}, REMOTE_ADDR="10.1.1.1"
    )
    assert_problem(response, 429, "throttled")
