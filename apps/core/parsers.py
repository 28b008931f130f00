import io
import re
from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Text PostgreSQL cannot store: NUL (refused in text and jsonb) and unpaired UTF-16 surrogates
# (not encodable as UTF-8). JSON can only carry either as a `\u` escape.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _has_unstorable_text(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, Mapping):
        return any(_has_unstorable_text(k) or _has_unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unstorable_text(item) for item in value)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing a body whose strings hold a NUL character or an unpaired
    surrogate with 400 `request.malformed`: no serializer field checks JSON values such as
    product attributes or variant options, and PostgreSQL refuses both (a 500).

    Both can only arrive as `\\u` escapes, so bodies without one (nearly all) are not walked."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read() if stream is not None else b""
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        if b"\\u" in raw and _has_unstorable_text(data):
            raise ParseError("JSON strings must not contain NUL characters or unpaired surrogates.")
        return data
