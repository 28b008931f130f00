"""Logout ends one session, and only that one.

`auth/logout` ends the `Session` of the presented refresh token (its `sid`). Its access tokens are
refused at once. From then on every refresh token of that session, the presented one or an older
rotated one, is refused with 401 `auth.token_revoked`, never treated as reuse: the account's
other sessions go on.
"""

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.tokens import RefreshToken

from apps.core.errors import InvalidInput
from apps.users.models import Session, User
from apps.users.services.sessions import session_revoke, sessions_prune
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


def ended_sessions(user: User) -> list[tuple[str, str]]:
    """(session id, why it ended) of the user's ended sessions."""
    return sorted(
        (str(pk), reason)
        for pk, reason in Session.objects.filter(user=user, ended_at__isnull=False).values_list(
            "pk", "ended_reason"
        )
    )


def live_sessions(user: User) -> list[str]:
    return sorted(
        str(pk)
        for pk in Session.objects.filter(user=user, ended_at=None).values_list("pk", flat=True)
    )


def assert_nothing_else_revoked(user: User, *logged_out: str) -> None:
    """Only the sessions `logged_out` ended, by logout."""
    assert ended_sessions(user) == sorted((session, "logout") for session in logged_out)


def test_a_logged_out_token_is_revoked_not_reused_and_other_sessions_go_on(user):
    one = login(user.email)
    two = login(user.email)

    response = logout(one["access"], one["refresh"])

    assert response.status_code == 204
    assert response.content == b""
    assert_signed_out(one["refresh"])
    assert_signed_out(one["refresh"])  # again: still not reuse
    assert_nothing_else_revoked(user, sid(one["refresh"]))
    assert live_sessions(user) == [sid(two["refresh"])]
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
    assert_nothing_else_revoked(user, sid(one["refresh"]))
    assert live_sessions(user) == [sid(other["refresh"])]
    assert refresh(other["refresh"]).status_code == 200


def test_after_logout_an_older_rotated_token_of_the_session_is_not_reuse(user):
    one = login(user.email)
    other = login(user.email)
    rotated = refresh(one["refresh"]).json()

    assert logout(rotated["access"], rotated["refresh"]).status_code == 204

    assert_signed_out(one["refresh"])
    assert_nothing_else_revoked(user, sid(one["refresh"]))
    assert bearer(other["access"]).get("/api/v1/me").status_code == 200
    assert refresh(other["refresh"]).status_code == 200


def test_a_token_without_a_session_is_invalid_and_logs_nothing_out(user):
    tokenless = RefreshToken.for_user(user)  # signed by us, but no sid claim: we never issue one
    other = login(user.email)

    response = logout(other["access"], str(tokenless))

    assert pointers(assert_problem(response, 400, "invalid")) == {"/refresh"}
    assert_problem(refresh(str(tokenless)), 401, "auth.token_invalid")
    assert_problem(
        bearer(str(tokenless.access_token)).get("/api/v1/me"), 401, "auth.authentication_failed"
    )
    assert_nothing_else_revoked(user)
    assert refresh(other["refresh"]).status_code == 200


def test_logout_ends_the_sessions_access_tokens_at_once_and_no_other(user):
    one = login(user.email)
    one_rotated = refresh(one["refresh"]).json()
    other = login(user.email)

    assert logout(one_rotated["access"], one_rotated["refresh"]).status_code == 204

    for access in (one["access"], one_rotated["access"]):  # every access token of the session
        assert_problem(bearer(access).get("/api/v1/me"), 401, "auth.token_revoked")
    assert bearer(other["access"]).get("/api/v1/me").status_code == 200
    assert_nothing_else_revoked(user, sid(one["refresh"]))


def test_logout_twice_ends_the_session_once(user):
    one = login(user.email)
    other = login(user.email)
    assert logout(one["access"], one["refresh"]).status_code == 204
    ended_at = Session.objects.get(pk=sid(one["refresh"])).ended_at
    # its access token is refused now: the second logout comes from another session
    with freeze_time(dt.timedelta(minutes=1)):
        assert logout(other["access"], one["refresh"]).status_code == 204
    assert Session.objects.get(pk=sid(one["refresh"])).ended_at == ended_at
    assert_nothing_else_revoked(user, sid(one["refresh"]))


def test_reuse_of_a_rotated_token_of_a_live_session_is_still_theft(user):
    one = login(user.email)
    other = login(user.email)
    refresh(one["refresh"])

    assert_problem(refresh(one["refresh"]), 401, "auth.token_reused")

    assert ended_sessions(user) == sorted(
        (sid(tokens["refresh"]), "token_reuse") for tokens in (one, other)
    )
    assert_problem(refresh(other["refresh"]), 401, "auth.token_revoked")


def test_logout_of_someone_elses_token_ends_nothing(user):
    victim = UserFactory()
    theirs = login(victim.email)
    mine = login(user.email)

    response = logout(mine["access"], theirs["refresh"])

    assert pointers(assert_problem(response, 400, "invalid")) == {"/refresh"}
    assert not Session.objects.filter(ended_at__isnull=False).exists()
    assert refresh(theirs["refresh"]).status_code == 200


def test_an_invalid_token_ends_nothing(user):
    mine = login(user.email)
    with pytest.raises(InvalidInput):
        session_revoke(user=user, raw_refresh="not-a-token")
    assert not Session.objects.filter(ended_at__isnull=False).exists()
    assert refresh(mine["refresh"]).status_code == 200


# --- pruning what no request can use any more


def test_prune_deletes_sessions_ended_or_expired_more_than_a_refresh_lifetime_ago(settings):
    user = UserFactory()
    live = login(user.email)
    now = timezone.now()
    lifetime = dt.timedelta(days=14)  # JWT_REFRESH_DAYS

    def session(**fields) -> Session:
        row = Session.objects.create(user=user, refresh_jti=uuid.uuid4().hex, expires_at=now)
        Session.objects.filter(pk=row.pk).update(**fields)
        return row

    ended_long_ago = session(ended_at=now - lifetime - dt.timedelta(hours=1), ended_reason="logout")
    ended_lately = session(ended_at=now - lifetime + dt.timedelta(hours=1), ended_reason="logout")
    expired_long_ago = session(expires_at=now - lifetime - dt.timedelta(hours=1))
    expired_lately = session(expires_at=now - lifetime + dt.timedelta(hours=1))

    assert sessions_prune(now=now) == 2

    assert set(Session.objects.values_list("pk", flat=True)) == {
        uuid.UUID(sid(live["refresh"])),
        ended_lately.pk,
        expired_lately.pk,
    }
    assert not Session.objects.filter(pk__in=[ended_long_ago.pk, expired_long_ago.pk]).exists()
    # the live session is untouched and still refreshes
    assert APIClient().post("/api/v1/auth/refresh", {"refresh": live["refresh"]}).status_code == 200
    # run again through the task: nothing left to prune
    assert prune_sessions.apply().get() == 0
    entry = settings.CELERY_BEAT_SCHEDULE["users-prune-sessions"]
    assert (entry["task"], entry["schedule"]) == ("users.prune_sessions", 24 * 3600.0)


def test_a_token_of_a_pruned_session_is_invalid(user):
    one = login(user.email)
    Session.objects.filter(pk=sid(one["refresh"])).delete()

    assert_problem(refresh(one["refresh"]), 401, "auth.token_invalid")
    assert_problem(bearer(one["access"]).get("/api/v1/me"), 401, "auth.authentication_failed")
