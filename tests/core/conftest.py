import io
import logging

import pytest

from apps.core.logging import JsonFormatter, RequestIdFilter


@pytest.fixture
def json_log():
    """The production formatter and filter on a handler attached to the root logger; yields the
    stream the JSON lines are written to."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
