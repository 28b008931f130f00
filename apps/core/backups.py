"""Backups of the database and a manifest of the media objects; restores into an empty database.

A backup is a directory `backup-<UTC time>/` holding

- `database.dump`: `pg_dump --format=custom` of the database, taken in an exported snapshot;
- `manifest.json`: when, from which database and server, the row count of every table *in that
  same snapshot* (what a restore must give back), and every media object in the storage with its
  size and SHA-256 (the objects themselves stay in the storage: on S3, versioning and replication
  keep them; the manifest says what the database referred to);
- `SHA256SUMS`: the checksums of both files, in `sha256sum -c` format.

`backup_create` and `backup_restore` print progress through a callback; `manage.py backup` and
`manage.py restore` are their command-line faces. See docs/backups.md.
"""

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.db import connections, transaction
from psycopg import sql

from apps.core.errors import BackupUnusable, RestoreTargetNotEmpty

Progress = Callable[[str], None]
DUMP_NAME = "database.dump"
MANIFEST_NAME = "manifest.json"
SUMS_NAME = "SHA256SUMS"
MANIFEST_FORMAT = 1


def _quiet(_: str) -> None:
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def libpq_environment(database: dict[str, Any]) -> dict[str, str]:
    """The PG* variables that point pg_dump / pg_restore at a Django database setting (the
    password goes through the environment, never the command line)."""
    env = {**os.environ}
    for key, name in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
        ("PGDATABASE", "NAME"),
    ):
        if database.get(name):
            env[key] = str(database[name])
    return env


def _conninfo(database: dict[str, Any]) -> str:
    parts = {
        "host": database.get("HOST") or "",
        "port": str(database.get("PORT") or ""),
        "user": database.get("USER") or "",
        "password": database.get("PASSWORD") or "",
        "dbname": database.get("NAME") or "",
    }
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v})


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupUnusable(detail=f"{name} is not installed (the PostgreSQL client tools).")
    return path


def _stream(argv: list[str], env: dict[str, str], progress: Progress, label: str) -> None:
    """Run a pg tool with --verbose, reporting its lines as progress; raise on failure."""
    process = subprocess.Popen(  # noqa: S603 (the PostgreSQL client tools, list arguments)
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    errors: list[str] = []
    for line in process.stderr:
        line = line.rstrip()
        if " error: " in line or line.startswith(("pg_dump: error", "pg_restore: error")):
            errors.append(line)
        elif "dumping contents of table" in line or "processing data for table" in line:
            progress(f"{label}: {line.split(': ', 1)[-1]}")
    if process.wait() != 0:
        raise BackupUnusable(detail=f"{Path(argv[0]).name} failed: " + "; ".join(errors[-5:]))


# --- row counts ----------


def _table_counts(cursor: Any, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in sorted(tables):
        # Raw SQL: counting every table by name, including those no model describes.
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        counts[table] = cursor.fetchone()[0]
    return counts


_USER_TABLES = (
    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
)


# --- media ----------


def _storage_files(storage: Storage, prefix: str = "") -> Iterator[str]:
    directories, files = storage.listdir(prefix)
    for name in sorted(files):
        yield f"{prefix}{name}"
    for directory in sorted(directories):
        yield from _storage_files(storage, f"{prefix}{directory}/")


def media_manifest(
    storage: Storage = default_storage, *, checksums: bool = True, progress: Progress = _quiet
) -> list[dict[str, Any]]:
    objects = []
    for number, name in enumerate(_storage_files(storage), start=1):
        entry: dict[str, Any] = {"name": name, "size": storage.size(name)}
        if checksums:
            digest = hashlib.sha256()
            with storage.open(name, "rb") as stream:
                for chunk in stream.chunks():
                    digest.update(chunk)
            entry["sha256"] = digest.hexdigest()
        objects.append(entry)
        if number % 100 == 0:
            progress(f"media: {number} objects")
    return objects


# --- backup ----------


def backup_create(
    *,
    directory: Path,
    alias: str = "default",
    media_checksums: bool = True,
    progress: Progress = _quiet,
) -> Path:
    """Write a backup of database `alias` and the media manifest into a new directory under
    `directory`; returns it. The dump and the manifest's row counts come from one snapshot, so
    the counts are exactly what a restore of the dump holds. Raises BackupUnusable."""
    database = settings.DATABASES[alias]
    if connections[alias].vendor != "postgresql":
        raise BackupUnusable(detail="Backups are of PostgreSQL databases (pg_dump).")
    pg_dump = _tool("pg_dump")
    taken_at = dt.datetime.now(dt.UTC)
    target = directory / f"backup-{taken_at:%Y%m%dT%H%M%S%fZ}"
    target.mkdir(parents=True)
    dump = target / DUMP_NAME
    progress(f"backup of {database['NAME']} into {target}")

    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        # Raw SQL: an exported snapshot has no ORM form. It must be the transaction's first
        # statement's isolation: pg_dump then dumps exactly what this transaction sees.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot(), now(), current_setting('server_version')")
        snapshot, snapshot_at, server_version = cursor.fetchone()
        cursor.execute(_USER_TABLES)
        tables = [row[0] for row in cursor.fetchall()]
        progress(f"counting rows of {len(tables)} tables")
        counts = _table_counts(cursor, tables)
        progress(f"dumping ({sum(counts.values())} rows)")
        _stream(
            [
                pg_dump,
                "--format=custom",
                "--verbose",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={dump}",
            ],
            libpq_environment(database),
            progress,
            "dump",
        )
    progress(f"dump written: {dump.stat().st_size} bytes")

    progress("listing media objects")
    objects = media_manifest(checksums=media_checksums, progress=progress)
    manifest = {
        "format": MANIFEST_FORMAT,
        "taken_at": snapshot_at.isoformat(),
        "database": {
            "name": database["NAME"],
            "server_version": server_version,
            "dump": DUMP_NAME,
            "bytes": dump.stat().st_size,
            "tables": counts,
        },
        "media": {
            "storage": type(default_storage).__module__ + "." + type(default_storage).__name__,
            "count": len(objects),
            "bytes": sum(entry["size"] for entry in objects),
            "objects": objects,
        },
    }
    (target / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    progress(f"media: {len(objects)} objects, {manifest['media']['bytes']} bytes")
    sums = "".join(f"{sha256_file(target / name)}  {name}\n" for name in (DUMP_NAME, MANIFEST_NAME))
    (target / SUMS_NAME).write_text(sums)
    progress(f"done: {target}")
    return target


# --- restore ----------


def backup_verify(backup: Path) -> dict[str, Any]:
    """The backup's manifest, once both files match SHA256SUMS. Raises BackupUnusable."""
    sums = backup / SUMS_NAME
    if not sums.is_file():
        raise BackupUnusable(detail=f"{sums} is missing: not a backup directory.")
    for line in sums.read_text().splitlines():
        expected, _, name = line.partition("  ")
        path = backup / name
        if not path.is_file() or sha256_file(path) != expected:
            raise BackupUnusable(detail=f"{name} does not match its checksum in {SUMS_NAME}.")
    return json.loads((backup / MANIFEST_NAME).read_text())


def backup_restore(
    *,
    backup: Path,
    database: dict[str, Any],
    jobs: int = 2,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Restore `backup` into the empty database `database` (a DATABASES entry), then check that
    every table holds the manifest's row count. Returns the manifest. Raises BackupUnusable (bad
    checksum, failed restore, counts that differ) or RestoreTargetNotEmpty."""
    manifest = backup_verify(backup)
    progress(f"checksums verified; backup taken at {manifest['taken_at']}")
    with psycopg.connect(_conninfo(database), autocommit=True) as conn:
        tables = [row[0] for row in conn.execute(_USER_TABLES.encode()).fetchall()]
    if tables:
        raise RestoreTargetNotEmpty(
            detail=f"{database['NAME']} has {len(tables)} tables; restore only into an empty one."
        )
    progress(f"restoring into {database['NAME']} with {jobs} jobs")
    _stream(
        [
            _tool("pg_restore"),
            "--verbose",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            f"--jobs={jobs}",
            f"--dbname={database['NAME']}",
            str(backup / manifest["database"]["dump"]),
        ],
        libpq_environment(database),
        progress,
        "restore",
    )
    with psycopg.connect(_conninfo(database), autocommit=True) as conn, conn.cursor() as cursor:
        expected = manifest["database"]["tables"]
        counts = _table_counts(cursor, list(expected))
    wrong = {table: (counts[table], n) for table, n in expected.items() if counts[table] != n}
    if wrong:
        raise BackupUnusable(detail=f"row counts differ from the manifest (got, expected): {wrong}")
    progress(f"verified {len(expected)} tables, {sum(counts.values())} rows")
    return manifest


def media_missing(manifest: dict[str, Any], storage: Storage = default_storage) -> list[str]:
    """The manifest's media objects that the storage lacks or holds with another size."""
    return [
        entry["name"]
        for entry in manifest["media"]["objects"]
        if not storage.exists(entry["name"]) or storage.size(entry["name"]) != entry["size"]
    ]
