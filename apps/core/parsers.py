import io
import re
from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Text PostgreSQL cannot store: NUL (refused in text and jsonb) and unpaired UTF-16 surrogates
# (not encodable as UTF-8). JSON can only carry either as a `\u` escape.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# No body of this API nests deeper (product attributes are the deepest free JSON); deeper input
# only costs recursion in the decoder, the serializers and the renderer.
MAX_JSON_DEPTH = 32


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Iterative, so that checking the depth cannot itself exhaust the stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _has_unstorable_text(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, Mapping):
        return any(_has_unstorable_text(k) or _has_unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unstorable_text(item) for item in value)
    return False


_TOO_DEEP = f"JSON must not nest arrays and objects more than {MAX_JSON_DEPTH} deep."


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with 400 `request.malformed`:

    - a body whose strings hold a NUL character or an unpaired surrogate: no serializer field
      checks JSON values such as product attributes or variant options, and PostgreSQL refuses
      both (a 500). Both can only arrive as `\\u` escapes, so bodies without one (nearly all)
      are not walked for them;
    - a body nested deeper than MAX_JSON_DEPTH arrays and objects (`[` x 1000 made the decoder
      raise RecursionError, a 500). Only a body with more brackets than that is walked."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_TOO_DEEP) from exc
        if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _nests_deeper_than(
            data, MAX_JSON_DEPTH
        ):
            raise ParseError(_TOO_DEEP)
        if b"\\u" in raw and _has_unstorable_text(data):
            raise ParseError("JSON strings must not contain NUL characters or unpaired surrogates.")
        return data
