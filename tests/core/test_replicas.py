"""Read replicas against a real streaming standby (apps.core.replicas).

The module makes its own cluster (tests/postgres_cluster.py): a primary, migrated and seeded with
30 products, two standbys from `pg_basebackup -R` logging every statement (the second stopped
until the last test: until then it is the unreachable replica every request skips), and gunicorn
with two processes on them (`DATABASE_REPLICA_URLS`). Where a query ran is read from each server's
statement log. Replica lag allowed: the default 5 s."""

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.brokers import wait_for
from tests.clients.conftest import free_port
from tests.postgres_cluster import (
    PgServer,
    add_standby,
    free_cluster_port,
    init_primary,
    make_root,
    remove,
    server_bindir,
    wait_replayed,
)
from tests.services import need

ROOT = Path(__file__).resolve().parents[2]
MAX_LAG = 5.0
CHECK_SECONDS = 1.0
PRODUCT_SELECT = 'FROM "catalog_product"'
SHOP_SELECT = 'FROM "users_shop"'


@dataclass
class Cluster:
    primary: PgServer
    standby: PgServer
    second: PgServer  # a second replica, stopped until the round-robin test starts it
    env: dict[str, str]
    base_url: str = ""

    def heartbeat(self) -> None:
        """A commit on the primary, replayed by the standby: its lag starts from zero."""
        self.primary.execute(
            "CREATE TABLE IF NOT EXISTS heartbeat (at timestamptz); "
            "INSERT INTO heartbeat VALUES (now())",
            "marketplace",
        )
        wait_replayed(self.primary, self.standby)


def _python(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300
    )


@contextlib.contextmanager
def gunicorn(env: dict[str, str]) -> Iterator[str]:
    """gunicorn with two processes on `env`; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi",
         "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base_url}/bench/floor", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=60, interval=0.2)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    bindir = server_bindir()
    need(bindir is not None, "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin")
    assert bindir is not None
    root = make_root()
    servers: list[PgServer] = []
    try:
        primary = init_primary(bindir, root, free_cluster_port())
        servers.append(primary)
        primary.execute("CREATE DATABASE marketplace")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.bench",
            "BENCH_DATABASE_URL": primary.url("marketplace"),
            "BENCH_CACHE_KEY_PREFIX": f"replica-test-{uuid.uuid4().hex}",
        }
        _python(["manage.py", "migrate", "-v", "0"], env)
        _python(["-m", "bench.seed", "--products", "30"], env)
        standby = add_standby(primary, root, free_cluster_port({primary.port}))
        servers.append(standby)
        second = add_standby(
            primary,
            root,
            free_cluster_port({primary.port, standby.port}),
            "second",
            start=False,
        )
        servers.append(second)
        for server in (primary, standby, second):
            server.configure(log_statement="all")
        primary.execute("SELECT pg_reload_conf()")
        standby.execute("SELECT pg_reload_conf()")
        wait_replayed(primary, standby)
        env = {
            **env,
            "DATABASE_REPLICA_URLS": f"{standby.url('marketplace')},{second.url('marketplace')}",
            "REPLICA_MAX_LAG": str(MAX_LAG),
            "REPLICA_CHECK_SECONDS": str(CHECK_SECONDS),
        }
        with gunicorn(env) as base_url:
            yield Cluster(primary, standby, second, env, base_url)
    finally:
        for server in reversed(servers):
            server.stop()
        remove(root)


def _signup(cluster: Cluster) -> dict[str, str]:
    email = f"writer-{uuid.uuid4().hex[:12]}@example.com"
    response = httpx.post(
        f"{cluster.base_url}/api/v1/auth/signup",
        json={"email": email, "password": "a-long-test-password-123", "name": "Writer"},
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access']}"}


def test_public_reads_are_served_by_the_replica(cluster: Cluster) -> None:
    # Given: the product ids (whichever server answers)
    listing = httpx.get(f"{cluster.base_url}/api/v1/products?page_size=10")
    assert listing.status_code == 200
    ids = [item["id"] for item in listing.json()["results"]]
    on_replica = cluster.standby.log_count(PRODUCT_SELECT)
    on_primary = cluster.primary.log_count(PRODUCT_SELECT)

    # When: anonymous callers read pages and products nobody has read before
    pages = [httpx.get(f"{cluster.base_url}/api/v1/products?page_size=3&page={n}") for n in (2, 3)]
    details = [httpx.get(f"{cluster.base_url}/api/v1/products/{pk}") for pk in ids]

    # Then: every one is answered, from queries that ran on the replica and not on the primary
    assert [r.status_code for r in pages + details] == [200] * (len(pages) + len(details))
    assert cluster.standby.log_count(PRODUCT_SELECT) - on_replica >= len(pages) + len(details)
    assert cluster.primary.log_count(PRODUCT_SELECT) == on_primary


def test_a_writer_reads_its_own_write_while_the_replica_is_behind(cluster: Cluster) -> None:
    # Given: a seller, and a replica within the allowed lag that replays nothing more
    writer = _signup(cluster)
    cluster.heartbeat()
    cluster.standby.execute("SELECT pg_wal_replay_pause()")
    try:
        # When: the seller opens a shop and reads it back; an anonymous caller reads it too
        created = httpx.post(
            f"{cluster.base_url}/api/v1/shops", json={"name": "Fresh Shop"}, headers=writer
        )
        assert created.status_code == 201, created.text
        slug = created.json()["slug"]
        anonymous = httpx.get(f"{cluster.base_url}/api/v1/shops/{slug}")
        own = httpx.get(f"{cluster.base_url}/api/v1/shops/{slug}", headers=writer)

        # Then: the writer is pinned to the primary and sees its shop; the anonymous read went
        # to the replica, which has not replayed it yet
        assert own.status_code == 200
        assert own.json()["slug"] == slug
        assert anonymous.status_code == 404
    finally:
        cluster.standby.execute("SELECT pg_wal_replay_resume()")

    # And: once replayed, the replica shows it to everyone
    wait_for(
        lambda: httpx.get(f"{cluster.base_url}/api/v1/shops/{slug}").status_code == 200,
        timeout=10,
    )


def test_a_browser_is_pinned_by_its_cookie(cluster: Cluster) -> None:
    # Given: a browser session (a cookie jar) that writes
    with httpx.Client(base_url=cluster.base_url) as browser:
        response = browser.post(
            "/api/v1/auth/signup",
            json={
                "email": f"b-{uuid.uuid4().hex[:12]}@example.com",
                "password": "a-long-test-password-123",
            },
        )
        assert response.status_code == 201

        # Then: it carries the pin cookie, and its next public read runs on the primary
        assert "db_primary" in browser.cookies
        on_replica = cluster.standby.log_count(SHOP_SELECT)
        assert browser.get("/api/v1/shops").status_code == 200
        assert cluster.standby.log_count(SHOP_SELECT) == on_replica


def test_a_lagging_replica_is_skipped(cluster: Cluster) -> None:
    # Given: a replica whose replay is paused while the primary takes a write
    writer = _signup(cluster)
    cluster.standby.execute("SELECT pg_wal_replay_pause()")
    try:
        created = httpx.post(
            f"{cluster.base_url}/api/v1/shops", json={"name": "Later Shop"}, headers=writer
        )
        assert created.status_code == 201
        slug = created.json()["slug"]
        # When: it has fallen further behind than REPLICA_MAX_LAG (and every process has checked)
        time.sleep(MAX_LAG + CHECK_SECONDS + 0.5)
        on_replica = cluster.standby.log_count(SHOP_SELECT)
        anonymous = [httpx.get(f"{cluster.base_url}/api/v1/shops/{slug}") for _ in range(4)]

        # Then: anonymous reads come from the primary (they see the new shop), none from the
        # replica
        assert [r.status_code for r in anonymous] == [200] * 4
        assert cluster.standby.log_count(SHOP_SELECT) == on_replica
    finally:
        cluster.standby.execute("SELECT pg_wal_replay_resume()")


RENAME_SCRIPT = """
import sys
import django

django.setup()
from apps.catalog.models import Product
from apps.catalog.services import product_update

print("ready", flush=True)
pk = sys.stdin.readline().strip()
product = Product.objects.select_related("shop__owner").get(pk=pk)
product_update(actor=product.shop.owner, product=product, data={"name": "Renamed Product"})
print("done", flush=True)
"""


def test_a_read_behind_a_write_is_served_but_not_cached(cluster: Cluster) -> None:
    # Given: a product, and a seller's process ready to rename it (on the primary)
    listing = httpx.get(f"{cluster.base_url}/api/v1/products?page_size=1&page=5")
    product = listing.json()["results"][0]
    url = f"{cluster.base_url}/api/v1/products/{product['id']}"
    writer = subprocess.Popen(
        [sys.executable, "-c", RENAME_SCRIPT],
        cwd=ROOT,
        env=cluster.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    cluster.heartbeat()
    cluster.standby.execute("SELECT pg_wal_replay_pause()")
    try:
        # When: it is renamed (the detail's cache version is bumped) and an anonymous caller reads
        # the detail from the replica that has not replayed the rename
        writer.stdin.write(f"{product['id']}\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "done"
        # Every process checks the replica again (paused, well within REPLICA_MAX_LAG of the
        # heartbeat): none answers from a state it checked before the pause, such as the
        # previous test's lagging replica.
        time.sleep(CHECK_SECONDS + 0.2)
        stale = httpx.get(url)
        assert stale.status_code == 200
        assert stale.json()["name"] == product["name"]
    finally:
        cluster.standby.execute("SELECT pg_wal_replay_resume()")
        writer.communicate(timeout=30)

    # Then: that stale detail was not cached under the new version: once the replica replays the
    # rename, readers see it (they would see the old name for the cache's 10 minutes otherwise)
    wait_replayed(cluster.primary, cluster.standby)
    assert httpx.get(url).json()["name"] == "Renamed Product"


def test_a_stopped_replica_is_skipped_without_an_error(cluster: Cluster) -> None:
    # Given: the replica has served reads (the processes hold connections to it)
    cluster.heartbeat()
    time.sleep(CHECK_SECONDS + 0.2)
    for _ in range(4):
        assert httpx.get(f"{cluster.base_url}/api/v1/products?page_size=2").status_code == 200
    on_primary = cluster.primary.log_count(SHOP_SELECT)

    # When: it stops, and anonymous callers read at once (before any process re-checks it)
    cluster.standby.stop()
    try:
        responses = [
            httpx.get(f"{cluster.base_url}/api/v1/shops?page_size=1&page={n}") for n in range(1, 7)
        ]

        # Then: every read is answered, by the primary
        assert [r.status_code for r in responses] == [200] * 6
        assert cluster.primary.log_count(SHOP_SELECT) - on_primary >= 6
    finally:
        cluster.standby.start()


def test_without_the_cache_a_caller_with_credentials_reads_the_primary(cluster: Cluster) -> None:
    # Given: the same servers, but Redis unreachable (nothing listens on port 1)
    env = {**cluster.env, "BENCH_REDIS_URL": "redis://127.0.0.1:1/0"}
    with gunicorn(env) as base_url:
        writer = _signup(cluster)
        on_replica = cluster.standby.log_count(SHOP_SELECT)

        # When: a caller with a token reads a public page (its pin cannot be looked up)
        own = httpx.get(f"{base_url}/api/v1/shops", headers=writer)

        # Then: it is answered from the primary; an anonymous reader still uses the replica
        assert own.status_code == 200
        assert cluster.standby.log_count(SHOP_SELECT) == on_replica
        anonymous = httpx.get(f"{base_url}/api/v1/shops")
        assert anonymous.status_code == 200
        assert cluster.standby.log_count(SHOP_SELECT) > on_replica


def test_reads_go_round_robin_over_the_usable_replicas(cluster: Cluster) -> None:
    # Given: the second replica started and caught up (every process checks it again)
    cluster.second.start()
    wait_replayed(cluster.primary, cluster.second)
    time.sleep(CHECK_SECONDS + 0.2)
    first, second = cluster.standby.log_count(SHOP_SELECT), cluster.second.log_count(SHOP_SELECT)

    # When: anonymous callers read shop pages
    responses = [httpx.get(f"{cluster.base_url}/api/v1/shops?page_size=1") for _ in range(8)]

    # Then: both replicas served some of them
    assert [r.status_code for r in responses] == [200] * 8
    assert cluster.standby.log_count(SHOP_SELECT) > first
    assert cluster.second.log_count(SHOP_SELECT) > second
