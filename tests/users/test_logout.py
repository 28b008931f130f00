"""Logout ends one session, and only that one.

`auth/logout` records the session id of the presented refresh token (`EndedSession`, and on the
user row for its access tokens) and blacklists the session's refresh tokens. Its access tokens are
refused at once. From then on every refresh token of that session, the
presented one, an older rotated one or one a rotation racing the logout issued, is refused with
401 `auth.token_revoked`, never treated as reuse: the account's other sessions go on.
"""

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.core.errors import InvalidInput
from apps.users.models import EndedSession, User
from apps.users.services import SessionRefreshToken, session_revoke, sessions_prune
from apps.users.tasks import prune_sessions
from tests.assertions import assert_problem, pointers
from tests.users.factories import UserFactory
from tests.users.sessions import bearer, login, refresh

pytestmark = pytest.mark.django_db

SIGNED_OUT = {
    "type": "https://errors.marketplace.dev/auth.token_revoked",
    "title": "Token revoked",
    "status": 401,
    "detail": "This refresh token was revoked: its session signed out. Sign in again.",
    "code": "auth.token_revoked",
}


def logout(access: str, token: str):
    return bearer(access).post("/api/v1/auth/logout", {"refresh": token})


def sid(token: str) -> str:
    return token_backend.decode(token)["sid"]


def assert_signed_out(token: str) -> None:
    response = refresh(token)
    assert_problem(response, 401, "auth.token_revoked")
    assert response.json() == SIGNED_OUT


def assert_nothing_else_revoked(user: User) -> None:
    user.refresh_from_db()
    assert user.tokens_generation == 0
    assert user.tokens_valid_after is None


def usable_sessions(user: User) -> list[str]:
    """Session ids of the user's refresh tokens that are not blacklisted."""
    return sorted(
        token_backend.decode(raw, verify=False).get("sid", "")
        for raw in OutstandingToken.objects.filter(
            user=user, blacklistedtoken__isnull=True
        ).values_list("token", flat=True)
    )


def test_a_logged_out_token_is_revoked_not_reused_and_other_sessions_go_on(user):
    one = login(user.email)
    two = login(user.email)

    response = logout(one["access"], one["refresh"])

    assert response.status_code == 204
    assert response.content == b""
    assert_signed_out(one["refresh"])
    assert_signed_out(one["refresh"])  # again: still not reuse
    assert_nothing_else_revoked(user)
    assert list(EndedSession.objects.values_list("session_id", "user_id")) == [
        (uuid.UUID(sid(one["refresh"])), user.pk)
    ]
    assert usable_sessions(user) == [sid(two["refresh"])]
    # the other session is untouched: its access token works and its refresh token rotates
    assert bearer(two["access"]).get("/api/v1/me").status_code == 200
    assert refresh(two["refresh"]).status_code == 200


def test_logout_with_a_token_rotated_just_before_ends_the_rotation_too(user):
    # Two tabs: one refreshes, the other logs out with the token it still holds.
    one = login(user.email)
    other = login(user.email)
    rotated = refresh(one["refresh"]).json()

    assert logout(one["access"], one["refresh"]).status_code == 204

    assert_signed_out(rotated["refresh"])
    assert_signed_out(one["refresh"])
    assert_nothing_else_revoked(user)
    assert usable_sessions(user) == [sid(other["refresh"])]
    assert refresh(other["refresh"]).status_code == 200


def test_after_logout_an_older_rotated_token_of_the_session_is_not_reuse(user):
    one = login(user.email)
    other = login(user.email)
    rotated = refresh(one["refresh"]).json()

    assert logout(rotated["access"], rotated["refresh"]).status_code == 204

    assert_signed_out(one["refresh"])
    assert_nothing_else_revoked(user)
    assert bearer(other["access"]).get("/api/v1/me").status_code == 200
    assert refresh(other["refresh"]).status_code == 200


def test_a_token_a_racing_rotation_issued_after_the_logout_is_refused(user):
    one = login(user.email)
    assert logout(one["access"], one["refresh"]).status_code == 204
    # What a rotation that read the session as live, and committed after the logout, issues:
    late = SessionRefreshToken.for_session(user=user, session_id=sid(one["refresh"]))

    assert_signed_out(str(late))

    assert not BlacklistedToken.objects.filter(token__jti=late["jti"]).exists()
    assert OutstandingToken.objects.filter(user=user).count() == 2
    assert_nothing_else_revoked(user)


def test_logout_of_a_token_from_before_sessions_ends_that_token_only(user):
    legacy = RefreshToken.for_user(user)  # no sid claim
    other = login(user.email)

    assert logout(other["access"], str(legacy)).status_code == 204

    assert_signed_out(str(legacy))
    assert_nothing_else_revoked(user)
    assert usable_sessions(user) == [sid(other["refresh"])]
    assert refresh(other["refresh"]).status_code == 200


def test_logout_ends_the_sessions_access_tokens_at_once_and_no_other(user):
    one = login(user.email)
    one_rotated = refresh(one["refresh"]).json()
    other = login(user.email)

    assert logout(one_rotated["access"], one_rotated["refresh"]).status_code == 204

    for access in (one["access"], one_rotated["access"]):  # every access token of the session
        assert_problem(bearer(access).get("/api/v1/me"), 401, "auth.token_revoked")
    assert bearer(other["access"]).get("/api/v1/me").status_code == 200
    user.refresh_from_db()
    assert set(user.tokens_ended_sessions) == {sid(one["refresh"])}


def test_logout_twice_records_the_session_once(user):
    one = login(user.email)
    other = login(user.email)
    assert logout(one["access"], one["refresh"]).status_code == 204
    # its access token is refused now: the second logout comes from another session
    assert logout(other["access"], one["refresh"]).status_code == 204
    assert EndedSession.objects.count() == 1
    assert BlacklistedToken.objects.count() == 1
    user.refresh_from_db()
    assert len(user.tokens_ended_sessions) == 1


def test_ended_sessions_older_than_an_access_token_are_forgotten(user):
    first = login(user.email)
    logout(first["access"], first["refresh"])
    with freeze_time(dt.timedelta(minutes=11)):  # JWT_ACCESS_MINUTES is 10
        second = login(user.email)
        assert logout(second["access"], second["refresh"]).status_code == 204
    user.refresh_from_db()
    second_sid = token_backend.decode(second["refresh"], verify=False)["sid"]  # issued "later"
    assert set(user.tokens_ended_sessions) == {second_sid}


def test_reuse_of_a_rotated_token_of_a_live_session_is_still_theft(user):
    one = login(user.email)
    other = login(user.email)
    refresh(one["refresh"])

    assert_problem(refresh(one["refresh"]), 401, "auth.token_reused")

    user.refresh_from_db()
    assert user.tokens_generation == 1
    assert_problem(refresh(other["refresh"]), 401, "auth.token_revoked")
    assert not EndedSession.objects.exists()


def test_logout_of_someone_elses_token_ends_nothing(user):
    victim = UserFactory()
    theirs = login(victim.email)
    mine = login(user.email)

    response = logout(mine["access"], theirs["refresh"])

    assert pointers(assert_problem(response, 400, "invalid")) == {"/refresh"}
    assert not EndedSession.objects.exists()
    assert not BlacklistedToken.objects.exists()
    assert refresh(theirs["refresh"]).status_code == 200


def test_an_invalid_token_ends_nothing(user):
    mine = login(user.email)
    with pytest.raises(InvalidInput):
        session_revoke(user=user, raw_refresh="not-a-token")
    assert not EndedSession.objects.exists()
    assert refresh(mine["refresh"]).status_code == 200


# --- pruning what no request can use any more


def test_prune_deletes_expired_refresh_records_and_old_ended_sessions(settings):
    user = UserFactory()
    live = login(user.email)
    old = login(user.email)
    session_revoke(user=user, raw_refresh=old["refresh"])
    now = timezone.now()
    expired_jti = token_backend.decode(old["refresh"])["jti"]
    OutstandingToken.objects.filter(jti=expired_jti).update(
        expires_at=now - dt.timedelta(seconds=1)
    )
    kept_session = EndedSession.objects.create(session_id=uuid.uuid4(), user=user)
    EndedSession.objects.filter(pk=kept_session.pk).update(ended_at=now - dt.timedelta(days=14))
    stale = EndedSession.objects.create(session_id=uuid.uuid4(), user=user)
    EndedSession.objects.filter(pk=stale.pk).update(ended_at=now - dt.timedelta(days=15, hours=1))

    assert sessions_prune(now=now) == {"refresh_tokens": 1, "ended_sessions": 1}

    assert not OutstandingToken.objects.filter(jti=expired_jti).exists()
    assert not BlacklistedToken.objects.filter(token__jti=expired_jti).exists()
    assert set(EndedSession.objects.values_list("pk", flat=True)) == {
        uuid.UUID(token_backend.decode(old["refresh"])["sid"]),
        kept_session.pk,
    }
    # the live session is untouched and still refreshes
    assert APIClient().post("/api/v1/auth/refresh", {"refresh": live["refresh"]}).status_code == 200
    # run again through the task: nothing left to prune
    assert prune_sessions.apply().get() == {"refresh_tokens": 0, "ended_sessions": 0}
    entry = settings.CELERY_BEAT_SCHEDULE["users-prune-sessions"]
    assert (entry["task"], entry["schedule"]) == ("users.prune_sessions", 24 * 3600.0)
