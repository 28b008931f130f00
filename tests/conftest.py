import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.core.throttling import HealthThrottle
from tests.assertions import assert_problem
from tests.users.factories import UserFactory

__all__ = ["assert_problem"]  # the one problem+json assertion: `from tests.assertions import ...`

pytest_plugins = [
    "tests.brokers"
]  # kafka_bootstrap, kafka_settings, celery_worker_real, stripe_api


def clear_own_cache() -> None:
    """Empty the cache as a flush would, for this run only."""
    # Only this run's keys (the test settings give each process its own key prefix): never FLUSHDB,
    # which would wipe the keys of another test run sharing the Redis server.
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters, idempotency records and catalog caches never leak between tests."""
    clear_own_cache()
    HealthThrottle.cache.clear()  # counted in process memory, not in the shared cache
    yield
    clear_own_cache()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


def auth_client(user) -> APIClient:
    """An APIClient sending the access token of a new session of `user`."""
    from apps.users.services.sessions import session_tokens_issue

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session_tokens_issue(user=user)['access']}")
    return client


@pytest.fixture
def user_client(user) -> APIClient:
    return auth_client(user)


@pytest.fixture
def staff_client(staff) -> APIClient:
    return auth_client(staff)
