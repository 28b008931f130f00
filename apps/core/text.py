"""Single-line text: names, SKUs, address lines.

They end up in email subjects and headers, CSV exports, notification titles and log lines, where a
CR/LF splits a line (a shop named "A\\r\\nBcc: ..." broke its followers' emails) and other control
characters garble or hide text. They are refused, not cleaned: the caller learns what was wrong.
Surrounding whitespace is not refused; DRF's CharField strips it before validators run.
"""

import re
from typing import Any

from django.core.exceptions import ValidationError
from rest_framework import serializers

# C0 and C1 control characters (tab, CR and LF among them), DEL, and Unicode's line and paragraph
# separators, which some mail and log readers also break lines at.
_NOT_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def validate_single_line(value: str) -> None:
    """Model and form field validator (DRF fields take it too: the code carries over)."""
    if _NOT_SINGLE_LINE.search(value):
        raise ValidationError(
            "Must be a single line without control characters (no line breaks or tabs).",
            code="control_characters",
        )


class SingleLineField(serializers.CharField):
    """A CharField whose value must be one line without control characters (400 with the
    field's pointer and code `control_characters`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(validate_single_line)
