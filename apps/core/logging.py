"""JSON log lines with the request id. Secrets are masked before anything is written."""

import json
import logging
import re
import threading
import time
from datetime import UTC, datetime

from apps.core.request_context import request_id_var

# Names whose values are secrets, also inside longer names (HTTP_AUTHORIZATION, X-Api-Key,
# access_token, new_password1, X-Cart-Token).
_MASKED_NAMES = (
    r"password|passwd|secret|token|access|refresh|api[_ -]?key|authorization|cookie|ticket"
)
# name=value, name: value, "name": "value", 'name': 'value', name is value
_SECRET = re.compile(
    rf"(?i)([\"']?[\w-]*(?:{_MASKED_NAMES})[\w-]*[\"']?(?:\s*[:=]\s*|\s+is\s+))"
    r"(\"[^\"]*\"|'[^']*'|[^\s,&;}\)\]]+)"
)
# Credentials after an auth scheme, wherever they appear.
_SCHEME = re.compile(r"(?i)\b(bearer|basic|token|api-?key)(\s+)[A-Za-z0-9._~+/=-]+")
# A JWT anywhere (three base64url segments, the first one a JSON header).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Our API keys (`mk_<hex prefix>.<secret>`): the prefix is not secret and helps to trace a client.
_API_KEY = re.compile(r"\b(mk_[0-9a-f]{4,16}\.)[A-Za-z0-9_-]+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    text = _JWT.sub(REDACTED, text)
    text = _API_KEY.sub(rf"\1{REDACTED}", text)
    text = _SCHEME.sub(rf"\1\2{REDACTED}", text)
    return _SECRET.sub(rf"\1{REDACTED}", text)


class RequestIdFilter(logging.Filter):
    """Adds `request_id`: from the request Django logs with (its "Internal Server Error" line is
    written after the middleware has finished), else from the current request's context."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        return True


class CacheOutageFilter(logging.Filter):
    """On the cache's error logger (`DJANGO_REDIS_LOGGER`): the cache backend ignores a Redis
    outage and logs each failed call with its traceback, which during an outage is a line per
    cache call. This lets one WARNING without the traceback through every `interval` seconds per
    process, saying how many failures it stands for, and counts every failure
    (`marketplace_cache_errors_total`)."""

    def __init__(self, interval: float = 10.0) -> None:
        super().__init__()
        self.interval = interval
        self._lock = threading.Lock()
        self._next_at = 0.0
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        from apps.core.metrics import CACHE_ERRORS  # not at import: logging is set up first

        CACHE_ERRORS.inc()
        error = record.exc_info[1] if record.exc_info else None
        with self._lock:
            now = time.monotonic()
            if now < self._next_at:
                self._suppressed += 1
                return False
            self._next_at = now + self.interval
            failures, self._suppressed = self._suppressed + 1, 0
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg = "cache unavailable, served without it (%d failed call(s)): %s"
        record.args = (failures, error.__cause__ or error if error else "unknown error")
        record.exc_info = record.exc_text = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message (+ a few extras)."""

    EXTRAS = ("task_id", "event_id", "status_code", "path", "method", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", request_id_var.get()),
            "message": redact(record.getMessage()),
        }
        for key in self.EXTRAS:
            if hasattr(record, key):
                value = getattr(record, key)
                payload[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            payload["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(payload, default=str)
