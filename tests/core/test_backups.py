"""The restore drill: seed, back up, change the data, restore into a new database, and compare
with the moment of the backup (apps.core.backups, manage.py backup / restore)."""

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from apps.inventory.models import StockItem, StockMovement
from apps.inventory.services import stock_adjust
from apps.orders.models import Order, OrderLine
from apps.orders.services import order_cancel
from tests.orders.factories import UserFactory, order_in, place, stocked_variant
from tests.services import need_postgres

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

OPEN = ("pending", "confirmed")
COUNTED = (Order, OrderLine, StockItem, StockMovement)

# The same facts read from Django (the live database) and from a restored copy (psycopg).
STOCK_SQL = (
    "SELECT variant_id::text, on_hand, reserved FROM inventory_stockitem ORDER BY variant_id"
)
RESERVED_SQL = (
    "SELECT l.variant_id::text, sum(l.quantity) FROM orders_orderline l "
    "JOIN orders_order o ON o.id = l.order_id WHERE o.status IN ('pending', 'confirmed') "
    "GROUP BY l.variant_id ORDER BY l.variant_id"
)
ORDERS_SQL = (
    "SELECT o.id::text, o.status, o.total::text, "
    "(SELECT count(*) FROM orders_orderline l WHERE l.order_id = o.id) "
    "FROM orders_order o ORDER BY o.id"
)


def facts(cursor: Any) -> dict[str, Any]:
    tables = {model._meta.db_table for model in COUNTED}
    counts = {}
    for table in sorted(tables):
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        counts[table] = cursor.fetchone()[0]
    result = {"counts": counts}
    for name, query in (("stock", STOCK_SQL), ("reserved", RESERVED_SQL), ("orders", ORDERS_SQL)):
        cursor.execute(query)
        result[name] = [tuple(row) for row in cursor.fetchall()]
    return result


def live_facts() -> dict[str, Any]:
    with connection.cursor() as cursor:
        return facts(cursor)


def database_url(name: str) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


@pytest.fixture
def restore_database() -> Iterator[str]:
    name = f"{connection.settings_dict['NAME']}_restore"
    admin = database_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"'.encode())
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0'.encode())
    yield name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def media_object() -> Iterator[str]:
    name = default_storage.save("drill/receipt.txt", ContentFile(b"kept by the manifest"))
    yield name
    default_storage.delete(name)


def test_restore_drill_gives_back_the_moment_of_the_backup(
    tmp_path: Path, restore_database: str, media_object: str
) -> None:
    need_postgres()
    # Given: stock, and orders in several states holding or releasing it
    buyer = UserFactory()
    variants = [stocked_variant(on_hand=20) for _ in range(3)]
    pending = order_in("pending", buyer=buyer, variant=variants[0], quantity=2)
    order_in("confirmed", buyer=buyer, variant=variants[1], quantity=3)
    order_in("shipped", buyer=buyer, variant=variants[2], quantity=1)
    order_in("cancelled", buyer=buyer, variant=variants[0], quantity=4)
    place(buyer, (variants[1], 2), (variants[2], 5))
    at_backup = live_facts()
    assert at_backup["reserved"]  # open orders hold stock

    # When: a backup is taken, then the data changes
    out = io.StringIO()
    call_command("backup", str(tmp_path), stdout=out)
    (backup,) = tmp_path.iterdir()
    order_cancel(order_id=pending.pk, actor=buyer, actor_role="buyer", reason="drill")
    place(buyer, (variants[0], 1))
    stock_adjust(variant_id=variants[2].pk, delta=7, reason="restock")
    assert live_facts() != at_backup

    # And: the backup is restored into a new, empty database
    restored_out = io.StringIO()
    call_command(
        "restore", str(backup), target_url=database_url(restore_database), stdout=restored_out
    )

    # Then: the restored database is the moment of the backup, counts, stock and orders alike
    with psycopg.connect(database_url(restore_database)) as conn, conn.cursor() as cursor:
        restored = facts(cursor)
    assert restored == at_backup
    # And: its stock invariants hold: 0 <= reserved <= on_hand, reserved = open order lines
    stock = {variant: (on_hand, reserved) for variant, on_hand, reserved in restored["stock"]}
    assert all(0 <= reserved <= on_hand for on_hand, reserved in stock.values())
    held = dict(restored["reserved"])
    assert {v: r for v, (_, r) in stock.items() if r} == held

    # And: the manifest holds the same counts, the media object with its checksum, and progress
    # was reported along the way
    manifest = json.loads((backup / "manifest.json").read_text())
    for table, count in at_backup["counts"].items():
        assert manifest["database"]["tables"][table] == count
    objects = {entry["name"]: entry for entry in manifest["media"]["objects"]}
    assert objects[media_object]["size"] == len(b"kept by the manifest")
    assert len(objects[media_object]["sha256"]) == 64
    assert "dump: dumping contents of table" in out.getvalue()
    assert "restore: processing data for table" in restored_out.getvalue()
    assert "restored the backup of" in restored_out.getvalue()


def test_restore_refuses_a_database_that_is_not_empty(tmp_path: Path, restore_database: str):
    need_postgres()
    # Given: a backup, and a database that already holds something
    stocked_variant()
    call_command("backup", str(tmp_path), "--no-media-checksums", stdout=io.StringIO())
    (backup,) = tmp_path.iterdir()
    with psycopg.connect(database_url(restore_database), autocommit=True) as conn:
        conn.execute(b"CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)")

    # When / then: the restore is refused and the database is untouched
    with pytest.raises(CommandError, match="has 1 tables; restore only into an empty one"):
        call_command("restore", str(backup), target_url=database_url(restore_database))
    with psycopg.connect(database_url(restore_database)) as conn:
        tables = conn.execute(
            b"SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        assert tables == [("precious",)]


def test_restore_refuses_a_backup_that_does_not_match_its_checksums(
    tmp_path: Path, restore_database: str
) -> None:
    need_postgres()
    call_command("backup", str(tmp_path), "--no-media-checksums", stdout=io.StringIO())
    (backup,) = tmp_path.iterdir()
    with (backup / "database.dump").open("ab") as dump:
        dump.write(b"\0")

    with pytest.raises(CommandError, match=r"database\.dump does not match its checksum"):
        call_command("restore", str(backup), target_url=database_url(restore_database))
    with psycopg.connect(database_url(restore_database)) as conn:
        assert conn.execute(
            b"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone() == (0,)
