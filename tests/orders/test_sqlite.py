"""The oversell race on SQLite configured like the embedded default (config.settings.dev: WAL,
IMMEDIATE transactions), in a subprocess with its own temporary file database."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("sqlite_oversell.py")
ROOT = SCRIPT.parents[2]


def test_fifty_buyers_race_for_twenty_units_on_sqlite(tmp_path):
    database = tmp_path / "race.sqlite3"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "REDIS_", "CELERY_", "KAFKA_"))
    }
    env["DATABASE_URL"] = f"sqlite:///{database}"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    env["DEBUG"] = "false"
    # The in-process cache and no broker: this run shares nothing with other test runs.
    env["REDIS_URL"] = ""
    env["LOG_LEVEL"] = "ERROR"

    result = subprocess.run(
        [sys.executable, str(SCRIPT), "50", "20"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["vendor"] == "sqlite"
    assert report["journal_mode"] == "wal"
    assert report["alive"] == 0
    assert report["outcomes"] == {"placed": 20, "insufficient_stock": 30}
    # 20 checkouts of two orders each (the scarce variant's shop and the ample one's).
    assert (report["on_hand"], report["reserved"], report["orders"]) == (20, 20, 40)
    assert report["ample"] == [1000, 40]
    # One checkout cancelled (release), one shipped (fulfil): [on_hand, reserved] per variant.
    assert report["after_moves"] == [[19, 18], [998, 36]]
