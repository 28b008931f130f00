"""Ending sessions ends access tokens too.

Logout-all, a password change, a password reset and refresh-token reuse end every `Session` of
the user (a password change all but the caller's); every token of an ended session, access or
refresh, is refused with 401 `auth.token_revoked` (by the `sid` claim every token of a session
carries). A session started after the revocation is not touched by it, not even one started at
the same instant: nothing compares clocks. Times are frozen so that "before", "after" and "the
same instant" do not depend on the machine's speed.
"""

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from freezegun import freeze_time
from rest_framework.test import APIClient
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.tokens import RefreshToken

from apps.users.models import Session, User
from apps.users.services.accounts import password_reset_link
from apps.users.services.sessions import session_revoke_all
from tests.assertions import assert_problem
from tests.users.factories import DEFAULT_PASSWORD, UserFactory
from tests.users.sessions import bearer, login, refresh

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "amber-lighthouse-quill-58"
T0 = dt.datetime(2031, 3, 4, 12, 0, 0, 100000, tzinfo=dt.UTC)  # 12:00:00.100

REUSED = {
    "type": "https://errors.marketplace.dev/auth.token_reused",
    "title": "Refresh token reused",
    "status": 401,
    "detail": "This refresh token was already used. Every session of this account has been "
    "signed out; sign in again.",
    "code": "auth.token_reused",
}
ACCESS_REVOKED = {
    "type": "https://errors.marketplace.dev/auth.token_revoked",
    "title": "Token revoked",
    "status": 401,
    "detail": "This token was revoked: the account signed out everywhere or its password "
    "changed. Sign in again.",
    "code": "auth.token_revoked",
}
REFRESH_REVOKED = {
    **ACCESS_REVOKED,
    "detail": "This refresh token was revoked: the account signed out everywhere or its "
    "password changed. Sign in again.",
}


def claims(token: str) -> dict:
    return token_backend.decode(token)


def sid(token: str) -> str:
    return claims(token)["sid"]


def live_sessions(user: User) -> list[str]:
    """The ids of the user's sessions that are not ended."""
    live = Session.objects.filter(user=user, ended_at=None).values_list("pk", flat=True)
    return sorted(str(pk) for pk in live)


def ended(token: str) -> tuple[dt.datetime | None, str]:
    """(when, why) the session of a token ended; (None, "") while it is live."""
    session = Session.objects.get(pk=sid(token))
    return session.ended_at, session.ended_reason


# How each revocation records why it ended the sessions.
REASON = {
    "logout_all": "logout_all",
    "password_change": "password_change",
    "password_reset_confirm": "password_reset",
}


# --- the three revocations, through the API. Each gets the user and the access token of the
# session that asks for it (the caller) and returns the password that signs in afterwards. The
# tests below watch another session than the caller's: a password change keeps the caller's.


def logout_all(user: User, access: str) -> str:
    response = bearer(access).post("/api/v1/auth/logout-all")
    assert response.status_code == 204
    return DEFAULT_PASSWORD


def password_change(user: User, access: str) -> str:
    response = bearer(access).post(
        "/api/v1/me/password", {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 204
    return NEW_PASSWORD


def password_reset_confirm(user: User, access: str) -> str:
    user.refresh_from_db()  # the link hashes last_login, which the login just set
    uid, token = password_reset_link(user=user)
    response = APIClient().post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 204
    return NEW_PASSWORD


Revocation = Callable[[User, str], str]
each_revocation = pytest.mark.parametrize(
    "revoke",
    [logout_all, password_change, password_reset_confirm],
    ids=["logout_all", "password_change", "password_reset_confirm"],
)


def assert_access_revoked(access: str) -> None:
    response = bearer(access).get("/api/v1/me")
    assert_problem(response, 401, "auth.token_revoked")
    assert response.json() == ACCESS_REVOKED
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def assert_access_works(access: str, user: User) -> None:
    response = bearer(access).get("/api/v1/me")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(user.pk)


# --- access tokens


@each_revocation
def test_access_token_issued_before_is_refused(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        session = login(user.email)
        caller = login(user.email)
        assert_access_works(session["access"], user)

        clock.move_to(T0 + dt.timedelta(seconds=5))
        revoke(user, caller["access"])

        assert_access_revoked(session["access"])
        assert ended(session["access"]) == (T0 + dt.timedelta(seconds=5), REASON[revoke.__name__])
        # every endpoint, not just /me
        assert_problem(
            bearer(session["access"]).get("/api/v1/me/addresses"), 401, "auth.token_revoked"
        )


@each_revocation
def test_new_login_after_revocation_works(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        old = login(user.email)
        caller = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        password = revoke(user, caller["access"])

        clock.move_to(T0 + dt.timedelta(seconds=6))
        new = login(user.email, password)
        assert_access_works(new["access"], user)
        rotated = refresh(new["refresh"])
        assert rotated.status_code == 200
        assert_access_works(rotated.json()["access"], user)
        assert_access_revoked(old["access"])


@each_revocation
def test_login_in_the_same_second_right_after_revocation_works(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        caller = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5, milliseconds=200))  # 12:00:05.300
        password = revoke(user, caller["access"])

        clock.move_to(T0 + dt.timedelta(seconds=5, milliseconds=600))  # 12:00:05.700
        new = login(user.email, password)
        assert_access_works(new["access"], user)
        assert refresh(new["refresh"]).status_code == 200


@each_revocation
def test_access_token_of_the_same_second_before_revocation_is_refused(revoke: Revocation, user):
    # Issued at 12:00:00.100, revoked at 12:00:00.800: `iat` (whole seconds) cannot tell these
    # apart, the generation can.
    with freeze_time(T0) as clock:
        session = login(user.email)
        caller = login(user.email)
        clock.move_to(T0 + dt.timedelta(milliseconds=700))
        revoke(user, caller["access"])
        assert_access_revoked(session["access"])
        assert_problem(refresh(session["refresh"]), 401, "auth.token_revoked")


@each_revocation
def test_tokens_at_the_very_instant_of_revocation_are_ordered(revoke: Revocation, user):
    # The clock does not move at all: before the revocation refused, after it accepted.
    with freeze_time(T0):
        before = login(user.email)
        caller = login(user.email)
        password = revoke(user, caller["access"])
        after = login(user.email, password)

        assert_access_revoked(before["access"])
        assert_access_works(after["access"], user)
        assert refresh(after["refresh"]).status_code == 200
        assert ended(before["access"]) == (T0, REASON[revoke.__name__])
        assert ended(after["access"]) == (None, "")


@each_revocation
def test_access_token_of_the_previous_second_is_refused(revoke: Revocation, user):
    # Only 0.2 s apart, but across a second boundary: 11:59:59.900 and 12:00:00.100.
    with freeze_time(T0 - dt.timedelta(milliseconds=200)) as clock:
        session = login(user.email)
        caller = login(user.email)
        clock.move_to(T0)
        revoke(user, caller["access"])
        assert_access_revoked(session["access"])


@each_revocation
def test_other_users_tokens_are_unaffected(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        bystander = UserFactory()
        theirs = login(bystander.email)
        mine = login(user.email)
        caller = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        revoke(user, caller["access"])

        assert_access_revoked(mine["access"])
        assert_access_works(theirs["access"], bystander)
        assert refresh(theirs["refresh"]).status_code == 200
        assert live_sessions(bystander) == [sid(theirs["refresh"])]


@each_revocation
def test_anonymous_is_still_401_not_authenticated(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        session = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        revoke(user, session["access"])
        response = APIClient().get("/api/v1/me")
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
        assert response.json() == {
            "type": "https://errors.marketplace.dev/auth.not_authenticated",
            "title": "Authentication required",
            "status": 401,
            "detail": "Authentication credentials were not provided.",
            "code": "auth.not_authenticated",
        }


# --- refresh tokens


@each_revocation
def test_refresh_token_issued_before_is_refused_and_new_sessions_survive(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        old = login(user.email)
        caller = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        password = revoke(user, caller["access"])
        clock.move_to(T0 + dt.timedelta(seconds=6))
        new = login(user.email, password)

        response = refresh(old["refresh"])
        assert_problem(response, 401, "auth.token_revoked")
        assert response.json() == REFRESH_REVOKED
        # Not treated as reuse: the session opened after the revocation is not revoked with it.
        assert ended(old["refresh"])[1] == REASON[revoke.__name__]
        assert ended(new["refresh"]) == (None, "")
        rotated = refresh(new["refresh"])
        assert rotated.status_code == 200
        assert_access_works(rotated.json()["access"], user)


@each_revocation
def test_rotated_refresh_token_issued_before_is_revoked_not_reused(revoke: Revocation, user):
    with freeze_time(T0) as clock:
        first = login(user.email)["refresh"]
        second = refresh(first).json()
        caller = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        password = revoke(user, caller["access"])
        clock.move_to(T0 + dt.timedelta(seconds=6))
        new = login(user.email, password)

        for presented in (first, second["refresh"]):
            assert refresh(presented).json() == REFRESH_REVOKED
        assert refresh(new["refresh"]).status_code == 200


def test_reuse_after_a_revocation_is_still_detected(user):
    with freeze_time(T0) as clock:
        old = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        logout_all(user, old["access"])
        clock.move_to(T0 + dt.timedelta(seconds=6))
        r1 = login(user.email)["refresh"]
        r2 = refresh(r1).json()["refresh"]

        assert_problem(refresh(r1), 401, "auth.token_reused")
        # the reuse ended every session, r2's included
        assert_problem(refresh(r2), 401, "auth.token_revoked")
        assert ended(old["refresh"]) == (T0 + dt.timedelta(seconds=5), "logout_all")
        assert ended(r2) == (T0 + dt.timedelta(seconds=6), "token_reuse")


# --- sessions: every token of one login carries its session id


def test_a_login_starts_a_session_that_its_tokens_and_rotations_share(user):
    one = login(user.email)
    two = login(user.email)

    session = sid(one["refresh"])
    assert str(uuid.UUID(session)) == session
    assert sid(one["access"]) == session
    assert sid(two["refresh"]) != session
    # the session's row names its user and its current refresh token
    row = Session.objects.get(pk=session)
    assert (row.user_id, row.refresh_jti) == (user.pk, claims(one["refresh"])["jti"])
    assert row.expires_at.timestamp() == claims(one["refresh"])["exp"]

    rotated = refresh(one["refresh"]).json()
    assert sid(rotated["refresh"]) == session
    assert sid(rotated["access"]) == session
    row.refresh_from_db()
    assert row.refresh_jti == claims(rotated["refresh"])["jti"]
    assert Session.objects.filter(user=user).count() == 2


def test_signup_starts_a_session():
    response = APIClient().post(
        "/api/v1/auth/signup",
        {"email": "new@example.com", "password": DEFAULT_PASSWORD, "name": "New"},
    )
    assert response.status_code == 201
    body = response.json()
    assert sid(body["access"]) == sid(body["refresh"])


def test_a_token_without_a_session_is_invalid(user):
    sessionless = RefreshToken.for_user(user)  # signed by us, but without the sid claim
    assert "sid" not in sessionless.payload

    response = refresh(str(sessionless))

    assert_problem(response, 401, "auth.token_invalid")
    assert response.json()["detail"] == "The refresh token is unknown."
    response = bearer(str(sessionless.access_token)).get("/api/v1/me")
    assert_problem(response, 401, "auth.authentication_failed")
    assert not Session.objects.exists()


# --- a password change keeps the caller's session and ends the others


def test_password_change_keeps_the_callers_session_and_ends_every_other(user):
    with freeze_time(T0) as clock:
        first = login(user.email)
        caller = refresh(first["refresh"]).json()  # the kept session spans rotations
        other = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))

        response = bearer(caller["access"]).post(
            "/api/v1/me/password",
            {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        )

        assert response.status_code == 204
        assert response.content == b""
        user.refresh_from_db()
        assert user.check_password(NEW_PASSWORD)
        assert ended(other["access"]) == (T0 + dt.timedelta(seconds=5), "password_change")
        # only the caller's session is left
        assert live_sessions(user) == [sid(caller["refresh"])]
        assert_access_works(caller["access"], user)
        assert_access_revoked(other["access"])
        assert refresh(other["refresh"]).json() == REFRESH_REVOKED

        clock.move_to(T0 + dt.timedelta(seconds=6))
        rotated = refresh(caller["refresh"])
        assert rotated.status_code == 200
        assert sid(rotated.json()["access"]) == sid(caller["access"])
        assert_access_works(rotated.json()["access"], user)
        assert_access_works(login(user.email, NEW_PASSWORD)["access"], user)


def test_a_token_without_a_session_cannot_change_the_password(user):
    sessionless = str(RefreshToken.for_user(user).access_token)  # no sid: no session to keep
    other = login(user.email)

    response = bearer(sessionless).post(
        "/api/v1/me/password", {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert_problem(response, 401, "auth.authentication_failed")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert live_sessions(user) == [sid(other["refresh"])]


def test_a_rotated_token_of_the_kept_session_presented_again_is_still_reuse(user):
    with freeze_time(T0) as clock:
        first = login(user.email)
        second = refresh(first["refresh"]).json()
        clock.move_to(T0 + dt.timedelta(seconds=5))
        password_change(user, second["access"])
        clock.move_to(T0 + dt.timedelta(seconds=6))

        assert refresh(first["refresh"]).json() == REUSED

        # reuse ends the kept session too, access token included
        assert ended(second["access"]) == (T0 + dt.timedelta(seconds=6), "token_reuse")
        assert_access_revoked(second["access"])
        assert refresh(second["refresh"]).json() == REFRESH_REVOKED


def test_logout_all_after_a_password_change_ends_the_kept_session(user):
    with freeze_time(T0) as clock:
        caller = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        password_change(user, caller["access"])
        clock.move_to(T0 + dt.timedelta(seconds=6))

        logout_all(user, caller["access"])

        assert ended(caller["access"]) == (T0 + dt.timedelta(seconds=6), "logout_all")
        assert_access_revoked(caller["access"])
        assert refresh(caller["refresh"]).json() == REFRESH_REVOKED


def test_a_password_change_from_another_session_ends_the_one_kept_before(user):
    with freeze_time(T0) as clock:
        first = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        password_change(user, first["access"])
        clock.move_to(T0 + dt.timedelta(seconds=6))
        second = login(user.email, NEW_PASSWORD)
        clock.move_to(T0 + dt.timedelta(seconds=7))

        response = bearer(second["access"]).post(
            "/api/v1/me/password",
            {"old_password": NEW_PASSWORD, "new_password": "third-lantern-orchid-93"},
        )

        assert response.status_code == 204
        assert ended(first["access"]) == (T0 + dt.timedelta(seconds=7), "password_change")
        assert_access_revoked(first["access"])
        assert refresh(first["refresh"]).json() == REFRESH_REVOKED
        assert_access_works(second["access"], user)
        assert live_sessions(user) == [sid(second["refresh"])]


def test_a_password_reset_after_a_password_change_spares_no_session(user):
    with freeze_time(T0) as clock:
        caller = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        password_change(user, caller["access"])
        clock.move_to(T0 + dt.timedelta(seconds=6))

        password_reset_confirm(user, caller["access"])

        assert ended(caller["access"]) == (T0 + dt.timedelta(seconds=6), "password_reset")
        assert_access_revoked(caller["access"])
        assert refresh(caller["refresh"]).json() == REFRESH_REVOKED


# --- reuse ends every session, access tokens included


def test_reuse_ends_every_session_access_tokens_included(user):
    with freeze_time(T0) as clock:
        stolen = login(user.email)
        rotated = refresh(stolen["refresh"]).json()
        other = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))

        assert refresh(stolen["refresh"]).json() == REUSED

        assert ended(other["access"]) == (T0 + dt.timedelta(seconds=5), "token_reuse")
        assert live_sessions(user) == []
        for access in (stolen["access"], rotated["access"], other["access"]):
            assert_access_revoked(access)
        for token in (rotated["refresh"], other["refresh"]):
            assert refresh(token).json() == REFRESH_REVOKED

        clock.move_to(T0 + dt.timedelta(seconds=6))
        assert_access_works(login(user.email)["access"], user)


# --- what does not revoke


def test_failed_password_change_revokes_nothing(user):
    with freeze_time(T0) as clock:
        session = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        response = bearer(session["access"]).post(
            "/api/v1/me/password", {"old_password": "wrong", "new_password": NEW_PASSWORD}
        )
        assert_problem(response, 400, "auth.wrong_password")
        assert live_sessions(user) == [sid(session["refresh"])]
        assert_access_works(session["access"], user)
        assert refresh(session["refresh"]).status_code == 200


def test_invalid_reset_link_revokes_nothing(user):
    with freeze_time(T0) as clock:
        session = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        uid, _ = password_reset_link(user=user)
        response = APIClient().post(
            "/api/v1/auth/password-reset/confirm",
            {"uid": uid, "token": "5x3-0123456789abcdef0123", "new_password": NEW_PASSWORD},
        )
        assert_problem(response, 400, "auth.invalid_reset_token")
        assert live_sessions(user) == [sid(session["refresh"])]
        assert_access_works(session["access"], user)


def test_logout_of_one_session_keeps_access_tokens(user):
    with freeze_time(T0) as clock:
        one = login(user.email)
        two = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        assert (
            bearer(one["access"])
            .post("/api/v1/auth/logout", {"refresh": one["refresh"]})
            .status_code
            == 204
        )
        assert live_sessions(user) == [sid(two["refresh"])]
        assert_access_works(two["access"], user)
        assert refresh(two["refresh"]).status_code == 200


def test_deactivated_user_is_refused_as_before(user):
    session = login(user.email)
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = bearer(session["access"]).get("/api/v1/me")
    body = assert_problem(response, 401, "auth.authentication_failed")
    assert body["detail"] == "User is inactive"


# --- service and admin


def test_session_revoke_all_ends_every_live_session_and_no_ended_one_again(user):
    with freeze_time(T0) as clock:
        logged_out = login(user.email)
        bearer(logged_out["access"]).post("/api/v1/auth/logout", {"refresh": logged_out["refresh"]})
        live = [login(user.email) for _ in range(2)]
        clock.move_to(T0 + dt.timedelta(seconds=5))
        assert session_revoke_all(user=user) == 2
        assert live_sessions(user) == []
        for tokens in live:
            assert ended(tokens["refresh"]) == (T0 + dt.timedelta(seconds=5), "logout_all")
        assert ended(logged_out["refresh"]) == (T0, "logout")


def test_admin_sign_out_everywhere_ends_access_tokens(client, admin_user, user):
    with freeze_time(T0) as clock:
        session = login(user.email)
        clock.move_to(T0 + dt.timedelta(seconds=5))
        client.force_login(admin_user)  # a session of the frozen time
        response = client.post(
            "/admin/users/user/",
            {"action": "sign_out_everywhere", "_selected_action": [str(user.pk)]},
        )
        assert response.status_code == 302
        assert response["Location"] == "/admin/users/user/"
        assert_access_revoked(session["access"])
        assert refresh(session["refresh"]).json() == REFRESH_REVOKED
        assert ended(session["access"]) == (T0 + dt.timedelta(seconds=5), "staff")


# --- cost


def test_authenticated_get_me_queries(user, django_assert_num_queries):
    login(user.email)
    session_revoke_all(user=user)  # ended sessions of the user do not cost the live one anything
    client = bearer(login(user.email)["access"])
    # one SELECT authenticates (the session with its user), one reads the user with the shop
    with django_assert_num_queries(2):
        response = client.get("/api/v1/me")
    assert response.status_code == 200
