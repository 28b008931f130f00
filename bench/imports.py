"""Import benchmark: rows per second of a 10,000-row product CSV through a seller import job.

The file is 2,500 clothing products x 4 variants (one row each, grouped by handle), with a
price, initial stock, a brand and a size. It runs through the worker's code path
(`import_job_create` then `import_job_run`: the resource, the catalog services, the ledger, the
outbox), on the benchmark database, in a new shop each run so every row is new. Then the same
file is imported again, which must change nothing (every row skipped). Reported: rows/s of
each, and the wall time; the target is that the first import of 10,000 rows takes at most
IMPORT_TARGET_SECONDS (300 s: well inside the worker's IMPORT_TIME_LIMIT_SECONDS).

`python -m bench.imports` runs it alone (the database as bench/run.py prepares it);
bench/run.py runs it after the other scenarios (`BENCH_ONLY=import` for only this).
Results go to bench/results/imports.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "10000"))
SIZES = ("S", "M", "L", "XL")
IMPORT_TARGET_SECONDS = 300.0


def csv_file(run_id: str, rows: int) -> bytes:
    lines = ["handle,type,name,sku,price,stock,attr.brand,option.size"]
    for index in range(rows):
        product, size = divmod(index, len(SIZES))
        first = size == 0
        lines.append(
            ",".join(
                [
                    f"tee-{product}",
                    "clothing" if first else "",
                    f"Bench tee {run_id} {product}" if first else "",
                    f"B{run_id}-{product}-{SIZES[size]}",
                    f"{10 + product % 50}.{size}9",
                    str(5 + index % 20),
                    "Loom" if first else "",
                    SIZES[size],
                ]
            )
        )
    return ("\n".join(lines) + "\n").encode()


def measure() -> dict[str, Any]:
    """In the benchmark's Django settings: two imports of the same file, timed."""
    import django

    django.setup()
    from apps.imports.models import ImportJob
    from apps.imports.services import import_job_create, import_job_run
    from apps.shops.models import Shop
    from apps.users.models import User

    run_id = f"{int(time.time()) % 10**7:07d}"
    owner = User.objects.create_user(email=f"import-bench-{run_id}@example.com", password=None)
    shop = Shop.objects.create(
        owner=owner, name=f"Import bench {run_id}", slug=f"import-bench-{run_id}"
    )
    data = csv_file(run_id, ROWS)
    results: dict[str, Any] = {"rows": ROWS, "bytes": len(data)}
    for name in ("first", "again"):
        started = time.perf_counter()
        job = import_job_create(
            actor=owner, shop=shop, kind="products", file_name="bench.csv", data=data
        )
        # With eager tasks (the benchmark's default) the job ran when it was committed.
        import_job_run(job_id=job.pk)
        seconds = time.perf_counter() - started
        done = ImportJob.objects.get(pk=job.pk)
        assert done.status == "succeeded", done.errors[:5]
        results[name] = {
            "seconds": round(seconds, 2),
            "rows_per_second": round(ROWS / seconds, 1),
            "new": done.rows_new,
            "updated": done.rows_updated,
            "skipped": done.rows_skipped,
        }
    assert results["first"]["new"] == ROWS
    assert results["again"]["skipped"] == ROWS  # the same file again changes nothing
    results["target_seconds"] = IMPORT_TARGET_SECONDS
    results["met"] = results["first"]["seconds"] <= IMPORT_TARGET_SECONDS
    return results


def run_all(only: set[str]) -> dict[str, Any] | None:
    """From bench/run.py: the measurement in a subprocess with the benchmark settings."""
    if only and "import" not in only:
        return None
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench"}
    output = subprocess.run(
        [sys.executable, "-m", "bench.imports", "measure"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    results = json.loads(output.stdout.strip().splitlines()[-1])
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "imports.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def table(results: dict[str, Any]) -> str:
    first, again = results["first"], results["again"]
    verdict = "met" if results["met"] else "MISSED"
    return "\n".join(
        [
            "| import scenario | rows | seconds | rows/s | new | skipped | check |",
            "|---|---:|---:|---:|---:|---:|---|",
            f"| product CSV, new (one import job) | {results['rows']} | {first['seconds']} | "
            f"{first['rows_per_second']} | {first['new']} | {first['skipped']} | "
            f"≤ {results['target_seconds']:.0f} s {verdict} |",
            f"| the same file again | {results['rows']} | {again['seconds']} | "
            f"{again['rows_per_second']} | {again['new']} | {again['skipped']} | "
            "every row skipped |",
        ]
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "measure":
        sys.stdout.write(json.dumps(measure()) + "\n")
    else:
        from bench import run

        run.database_prepare()
        print(table(run_all(set()) or {}))
