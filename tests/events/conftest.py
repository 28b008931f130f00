import pytest


@pytest.fixture(autouse=True)
def _only_test_subscribers(event_subscribers):
    """The apps' real subscribers (notifications, ...) stay out of these relay tests."""
    return event_subscribers
