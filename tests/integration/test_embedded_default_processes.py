"""The embedded default (SQLite, file cache, eager Celery) served by several processes at once,
as `gunicorn -w 3` would serve it: every process answers with fresh data after a write made in
another, and concurrent retries of one Idempotency-Key replay one result."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.brokers import free_port, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "demo-pass-2024"


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("embedded")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DATABASE_URL": f"sqlite:///{home / 'db.sqlite3'}",
        "FILE_CACHE_DIR": str(home / "cache"),
        "MEDIA_ROOT": str(home / "media"),
        "REDIS_URL": "",
        "LOG_LEVEL": "ERROR",
    }
    _run(["migrate", "--noinput"], env)
    _run(["seed_demo"], env)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", "3", "-b", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1"

    def live() -> bool:
        try:
            return requests.get(f"{base}/health/live", timeout=5).status_code == 200
        except requests.RequestException:
            return process.poll() is not None  # stop waiting if it died

    try:
        wait_for(live, timeout=120)
        assert process.poll() is None, "gunicorn did not start"
        yield base
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def login(base: str, email: str) -> dict[str, str]:
    response = requests.post(
        f"{base}/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access']}"}


def many_gets(url: str, count: int = 12) -> list[requests.Response]:
    # A new connection each: the requests spread over gunicorn's workers.
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: requests.get(url, timeout=10), range(count)))


def test_every_process_serves_a_write_made_in_another(server):
    seller = login(server, "seller1@example.com")
    products = requests.get(f"{server}/seller/products", headers=seller, timeout=10).json()
    product = next(p for p in products["results"] if p["status"] == "published")
    url = f"{server}/products/{product['id']}"
    assert {r.status_code for r in many_gets(url)} == {200}  # cached in every process

    variant = requests.get(url, timeout=10).json()["variants"][0]
    patched = requests.patch(
        f"{url}/variants/{variant['id']}", json={"price": "1234.56"}, headers=seller, timeout=10
    )
    assert patched.status_code == 200, patched.text
    assert {r.json()["variants"][0]["price"] for r in many_gets(url)} == {"1234.56"}

    unpublished = requests.post(f"{url}/unpublish", headers=seller, timeout=10)
    assert unpublished.status_code == 200, unpublished.text
    assert {r.status_code for r in many_gets(url)} == {404}
    published = requests.post(f"{url}/publish", headers=seller, timeout=10)
    assert published.status_code == 200, published.text
    assert {r.status_code for r in many_gets(url)} == {200}


def test_concurrent_retries_of_one_key_replay_one_result(server):
    customer = login(server, "customer@example.com")
    products = requests.get(f"{server}/products?in_stock=true", timeout=10).json()["results"]
    detail = requests.get(f"{server}/products/{products[0]['id']}", timeout=10).json()
    body = {"variant_id": detail["variants"][0]["id"], "quantity": 1}
    before = requests.get(f"{server}/cart", headers=customer, timeout=10).json()["item_count"]
    headers = {**customer, "Idempotency-Key": f"retry-{time.time_ns()}"}

    def add(_: int) -> requests.Response:
        return requests.post(f"{server}/cart/items", json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(add, range(8)))

    assert [r.status_code for r in responses] == [201] * 8
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 7
    assert len({r.content for r in responses}) == 1
    after = requests.get(f"{server}/cart", headers=customer, timeout=10).json()["item_count"]
    assert after == before + 1
