"""E-mail for the embedded default (`make run`): one line per message instead of the whole
MIME text, so the demo's notification e-mails do not bury the rest of the log. Set
EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend to see them in full."""

import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage


class SummaryConsoleEmailBackend(BaseEmailBackend):
    """Writes `email to <recipients>: <subject>` for each message to stdout."""

    def __init__(self, *args: Any, stream: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        with self._lock:
            for message in email_messages:
                recipients = ", ".join(message.recipients())
                self.stream.write(f"email to {recipients}: {message.subject}\n")
            self.stream.flush()
        return len(email_messages)
