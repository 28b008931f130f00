"""JSON log lines with the request id. Secrets are masked before anything is written."""

import json
import logging
import re
from datetime import UTC, datetime

from apps.core.request_context import request_id_var

_SECRET = re.compile(
    r"(?i)(\"?(?:password|new_password|old_password|token|access|refresh|secret|api[_-]?key"
    r"|authorization|ticket)\"?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,&}]+)"
)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    return _BEARER.sub(r"\1[redacted]", _SECRET.sub(r"\1[redacted]", text))


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", request_id_var.get()),
            "message": redact(record.getMessage()),
        }
        for key in ("task_id", "event_id", "status_code", "path", "method"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)
