"""The API's urlconf includes each app's `api/urls.py` (config/urls.py) with the hottest app
first. That is only safe because no pattern shadows another: every route resolves to its own
view."""

import re
import uuid
from importlib import import_module

import pytest
from django.urls import URLPattern, resolve

from config.urls import API_APPS

api_v1 = [
    pattern for app in API_APPS for pattern in import_module(f"apps.{app}.api.urls").urlpatterns
]

SAMPLES = {"uuid": str(uuid.UUID(int=7)), "int": "7", "slug": "a-slug", "str": "sample"}


def _sample_path(route: str) -> str:
    return re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES[m.group(1) or "str"], route)


@pytest.mark.parametrize("pattern", api_v1, ids=lambda p: str(p.pattern))
def test_every_api_route_resolves_to_its_own_view(pattern):
    assert isinstance(pattern, URLPattern)
    match = resolve(f"/api/v1/{_sample_path(str(pattern.pattern))}")
    assert match.func is pattern.callback


def test_every_app_with_an_api_is_routed():
    from pathlib import Path

    apps_dir = Path(__file__).resolve().parents[2] / "apps"
    with_urls = {p.parent.parent.name for p in apps_dir.glob("*/api/urls.py")}
    assert set(API_APPS) == with_urls
