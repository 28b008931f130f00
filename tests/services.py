"""Tests that need a real service skip with a reason when it is absent, except under
REQUIRE_SERVICES=1, where an absent service fails the test instead."""

import os
import socket

import pytest
from django.conf import settings
from django.db import connection

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") in ("1", "true", "yes")


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout):
            return True
    except OSError:
        return False


def need(condition: bool, reason: str) -> None:
    """Skip (or fail under REQUIRE_SERVICES=1) when `condition` is false."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def need_postgres() -> None:
    need(connection.vendor == "postgresql", "PostgreSQL is not reachable (running on SQLite)")


def need_redis() -> None:
    need(getattr(settings, "REDIS_AVAILABLE", False), "Redis is not reachable")


def need_rabbitmq() -> None:
    need(port_open("127.0.0.1", 5672), "RabbitMQ is not reachable on 127.0.0.1:5672")
