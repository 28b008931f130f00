"""Races the database must arbitrate: real threads, real connections, PostgreSQL row locks."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from apps.shops.models import Shop, ShopFollow
from apps.shops.services import shop_follow
from apps.users.models import Session, User
from apps.users.services.sessions import session_refresh, session_revoke_all, session_tokens_issue
from tests.services import need_postgres
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at once; each result is the return value or the exception raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def held_session(refresh: str) -> str:
    from rest_framework_simplejwt.state import token_backend

    return token_backend.decode(refresh)["sid"]


def test_concurrent_refresh_with_one_token_yields_one_winner():
    need_postgres()
    user = UserFactory()
    refresh = session_tokens_issue(user=user)["refresh"]
    results = race(*(lambda: session_refresh(raw_refresh=refresh) for _ in range(4)))
    winners = [r for r in results if isinstance(r, dict)]
    assert len(winners) == 1, results
    losers = [r for r in results if r not in winners]
    # The first loser finds the token replaced: reuse, which ends every session. The later ones,
    # next through the account's lock, find the session ended by that.
    assert sorted(type(r).__name__ for r in losers) == [
        "TokenReused",
        "TokenRevoked",
        "TokenRevoked",
    ], results
    assert list(Session.objects.filter(user=user).values_list("ended_reason", flat=True)) == [
        "token_reuse"
    ]
    # the reuse revoked the winner's new token too
    response = APIClient().post("/api/v1/auth/refresh", {"refresh": winners[0]["refresh"]})
    assert response.status_code == 401


def test_concurrent_revocations_end_each_session_once():
    need_postgres()
    user = UserFactory()
    for _ in range(3):
        session_tokens_issue(user=user)
    results = race(
        *(lambda: session_revoke_all(user=User.objects.get(pk=user.pk)) for _ in range(5))
    )
    # one at a time through the account's lock: the first ends the three, the others none
    assert sorted(results, key=str) == [0, 0, 0, 0, 3], results
    assert not Session.objects.filter(user=user, ended_at=None).exists()


def test_concurrent_follows_count_once():
    need_postgres()
    shop = ShopFactory()
    user = UserFactory()
    results = race(*(lambda: shop_follow(shop=shop, user=user) for _ in range(4)))
    assert sorted(results, key=str) == [False, False, False, True]
    shop.refresh_from_db()
    assert shop.follower_count == 1
    assert ShopFollow.objects.count() == 1
    assert connection.vendor == "postgresql"


def test_concurrent_shop_creates_for_one_owner_make_one_shop():
    need_postgres()
    from apps.shops.errors import ShopAlreadyExists
    from apps.shops.services import shop_create

    owner = UserFactory()
    results = race(*(lambda n=n: shop_create(owner=owner, name=f"Race {n}") for n in range(3)))
    assert sum(isinstance(r, Shop) for r in results) == 1, results
    assert sum(isinstance(r, ShopAlreadyExists) for r in results) == 2
    assert Shop.objects.filter(owner=owner).count() == 1


def test_a_refresh_racing_a_logout_of_its_session_leaves_nothing_alive():
    need_postgres()
    from apps.users.errors import TokenRevoked
    from apps.users.services.sessions import session_revoke

    user = UserFactory()
    other = session_tokens_issue(user=user)["refresh"]
    for _ in range(5):
        # Two tabs of one session: one refreshes, the other logs out, each with the token both
        # hold.
        held = session_tokens_issue(user=user)["refresh"]
        results = race(
            lambda held=held: session_refresh(raw_refresh=held),
            lambda held=held: session_revoke(user=User.objects.get(pk=user.pk), raw_refresh=held),
        )
        assert results[1] is None, results
        rotated = results[0]
        if isinstance(rotated, dict):  # the refresh won: its new token ends with the session
            with pytest.raises(TokenRevoked):
                session_refresh(raw_refresh=rotated["refresh"])
        else:  # the logout won: the refresh is refused as revoked, not as reuse
            assert isinstance(rotated, TokenRevoked), results
        with pytest.raises(TokenRevoked):
            session_refresh(raw_refresh=held)
    # nothing but the five logged-out sessions ended
    assert sorted(Session.objects.filter(user=user).values_list("ended_reason", flat=True)) == [
        "",
        *["logout"] * 5,
    ]
    # the other session lives on
    other = session_refresh(raw_refresh=other)["refresh"]
    assert session_refresh(raw_refresh=other)["refresh"]


def test_concurrent_logouts_of_one_user_each_end_their_access_tokens():
    need_postgres()
    from apps.users.services.sessions import session_revoke

    user = UserFactory()
    sessions = [session_tokens_issue(user=user) for _ in range(4)]

    results = race(
        *(
            lambda tokens=tokens: session_revoke(
                user=User.objects.get(pk=user.pk), raw_refresh=tokens["refresh"]
            )
            for tokens in sessions
        )
    )

    assert results == [None] * 4
    assert set(Session.objects.filter(user=user).values_list("ended_reason", flat=True)) == {
        "logout"
    }
    for tokens in sessions:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        assert client.get("/api/v1/me").status_code == 401


def test_a_logout_racing_logout_all_neither_deadlocks_nor_fails():
    need_postgres()
    from apps.users.services.sessions import session_revoke

    user = UserFactory()
    for _ in range(5):
        held = session_tokens_issue(user=user)["refresh"]
        results = race(
            lambda held=held: session_revoke(user=User.objects.get(pk=user.pk), raw_refresh=held),
            lambda: session_revoke_all(user=User.objects.get(pk=user.pk)),
        )
        assert results[0] is None, results
        assert isinstance(results[1], int), results
        # whichever ran second found the session ended: it ended once, by the first
        assert Session.objects.get(pk=held_session(held)).ended_reason in {"logout", "logout_all"}
