"""Reviews and comments are plain text.

They are stored as the author typed them (minus control characters and surrounding whitespace),
so "a < b" and "I <3 it" survive. The API returns them as JSON strings in `title`/`body`, which a
client must insert as text (textContent), and also as `body_html`: the same text HTML-escaped with
line breaks as <br>, the only markup the API returns, safe to insert as HTML.
"""

import html
import re

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str, *, single_line: bool = False) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL_CHARS.sub("", value)
    if single_line:
        value = " ".join(value.split())
    return value.strip()


def text_as_html(value: str) -> str:
    return html.escape(value, quote=True).replace("\n", "<br>")
