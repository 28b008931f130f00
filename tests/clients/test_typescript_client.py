"""TypeScript types generated with openapi-typescript from the live schema, a small typed script
(clients/typescript/purchase.ts, with openapi-fetch) type-checked by `tsc --strict` and run with
Node against the live server: the purchase the Python client test makes, from TypeScript.

The npm packages are pinned in clients/typescript/package-lock.json and installed with `npm ci`
into a copy of that folder, from a package cache (NPM_CACHE_DIR, default
~/.cache/marketplace-npm): once the cache is warm, the install runs offline. Without Node the
test skips, and fails under REQUIRE_SERVICES=1."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import ROOT
from tests.services import need

PROJECT = ROOT / "clients" / "typescript"
PROJECT_FILES = ("package.json", "package-lock.json", "tsconfig.json", "purchase.ts")


def npm_cache() -> Path:
    default = Path.home() / ".cache" / "marketplace-npm"
    return Path(os.environ.get("NPM_CACHE_DIR", default))


def run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr).strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of clients/typescript with its pinned packages installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    need(node is not None and npm is not None, "Node.js and npm are not installed")
    assert npm is not None
    workdir = tmp_path_factory.mktemp("typescript-client")
    for name in PROJECT_FILES:
        shutil.copy(PROJECT / name, workdir / name)
    base = [npm, "ci", "--no-audit", "--no-fund", "--cache", str(npm_cache())]
    installed = run([*base, "--offline"], workdir)  # a warm cache needs no network
    if installed.returncode != 0:
        installed = run([*base, "--prefer-offline"], workdir)
    assert installed.returncode == 0, output(installed)
    return workdir


def test_generated_typescript_types_type_check_and_make_a_purchase(
    project, demo_server, demo_schema
):
    bin_dir = project / "node_modules" / ".bin"

    # Request bodies' fields with a default stay optional (the default would make them required).
    types = run(
        [
            str(bin_dir / "openapi-typescript"),
            str(demo_schema),
            "--output",
            "schema.d.ts",
            "--default-non-nullable",
            "false",
        ],
        project,
    )
    assert types.returncode == 0, output(types)
    # Its banner and the file it wrote; a warning would be a line of its own.
    lines = output(types).splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith("openapi-typescript 7.13.0")
    assert "schema.d.ts" in lines[1]

    compiled = run([str(bin_dir / "tsc"), "--strict", "-p", "tsconfig.json"], project)
    assert compiled.returncode == 0, output(compiled)
    assert output(compiled) == ""

    purchase = run(["node", "dist/purchase.js", demo_server.url], project)
    assert purchase.returncode == 0, (
        f"{output(purchase)}\n--- server log:\n{demo_server.log_tail()}"
    )
    steps = [line.split(":")[0] for line in purchase.stdout.splitlines()]
    assert steps == [
        "signup",
        "login",
        "search",
        "product",
        "guest cart",
        "merge",
        "checkout review",
        "order",
        "order retried with the same Idempotency-Key",
        "my orders",
        "cancel",
        "purchase done",
    ]
