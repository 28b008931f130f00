"""Production settings refuse unsafe signing keys (SECRET_KEY and JWT_SIGNING_KEY alike), the deploy
checks flag each unsafe case, `check --deploy` is clean for the documented production env, and
the API docs are public or staff-only by API_DOCS_PUBLIC."""

import os
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core.checks import signing_keys_check
from apps.core.secret_keys import secret_key_problem

ROOT = Path(__file__).resolve().parents[2]
STRONG = secrets.token_urlsafe(64)
PLACEHOLDER = "change-me-to-a-long-random-string-of-at-least-50-chars"
UNSAFE = {
    "placeholder": PLACEHOLDER,
    "short": secrets.token_urlsafe(30),
    "few distinct": "ab" * 40,
    "development": "dev-insecure-secret-key-change-me-0123456789abcdef0123456789",
}
# What README's configuration table documents for production (plus a database to connect to).
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.prod",
    "SECRET_KEY": STRONG,
    "ALLOWED_HOSTS": "api.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://api.example.com",
    "CORS_ALLOWED_ORIGINS": "https://shop.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
}


def test_secret_key_problems():
    assert secret_key_problem(STRONG) is None
    assert secret_key_problem("") == "it is empty"
    assert secret_key_problem(PLACEHOLDER) == "it is a placeholder or development value"
    assert secret_key_problem(UNSAFE["short"]) == "it is shorter than 50 characters"
    assert secret_key_problem(UNSAFE["few distinct"]) == "it has fewer than 5 distinct characters"


def load_prod(monkeypatch, **env: str) -> dict:
    for name in ("SECRET_KEY", "JWT_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_module("config.settings.prod", run_name="prod_under_test")


@pytest.mark.parametrize("case", sorted(UNSAFE))
@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SIGNING_KEY"])
def test_production_refuses_an_unsafe_key(monkeypatch, name, case):
    keys = {"SECRET_KEY": STRONG, name: UNSAFE[case]}
    with pytest.raises(ImproperlyConfigured, match=f"{name} is unsafe"):
        load_prod(monkeypatch, **keys)


def test_production_refuses_no_secret_key_and_signs_tokens_with_a_strong_one(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is unsafe: it is empty"):
        load_prod(monkeypatch)
    # No JWT_SIGNING_KEY (or an empty one): tokens are signed with the checked SECRET_KEY.
    settings = load_prod(monkeypatch, SECRET_KEY=STRONG, JWT_SIGNING_KEY="")
    assert settings["SIMPLE_JWT"]["SIGNING_KEY"] == STRONG
    other = secrets.token_urlsafe(64)
    settings = load_prod(monkeypatch, SECRET_KEY=STRONG, JWT_SIGNING_KEY=other)
    assert settings["SIMPLE_JWT"]["SIGNING_KEY"] == other


def test_deploy_checks_flag_each_unsafe_key(settings):
    settings.SECRET_KEY = STRONG
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": STRONG}
    assert signing_keys_check() == []
    for case, value in UNSAFE.items():
        settings.SECRET_KEY = value
        settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": value}
        assert [m.id for m in signing_keys_check()] == ["core.E001", "core.E002"], case


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "JWT_SIGNING_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_for_the_documented_production_env():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_on_an_unsafe_jwt_key():
    result = manage(
        "check", "--deploy", **{**PRODUCTION_ENV, "JWT_SIGNING_KEY": UNSAFE["few distinct"]}
    )
    assert result.returncode != 0
    assert "JWT_SIGNING_KEY is unsafe: it has fewer than 5 distinct characters" in result.stderr


def test_api_docs_are_staff_only_when_not_public():
    probe = (
        "from django.test import Client; c = Client();"
        "print(c.get('/api/schema/').status_code, c.get('/api/docs/').status_code,"
        " c.get('/api/redoc/').status_code)"
    )
    common = {"DJANGO_SETTINGS_MODULE": "config.settings.test"}
    public = manage("shell", "-c", probe, **common)
    assert public.stdout.splitlines()[-1].split() == ["200", "200", "200"], public.stderr
    private = manage("shell", "-c", probe, API_DOCS_PUBLIC="false", **common)
    assert private.stdout.splitlines()[-1].split() == ["401", "401", "401"], private.stderr
