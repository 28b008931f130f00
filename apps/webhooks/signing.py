"""Standard Webhooks signatures (https://www.standardwebhooks.com, the scheme Svix verifies).

The secret is "whsec_" + base64 of random bytes; the key is those bytes. A request carries
`webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`: space-separated
`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per secret in use (two during a
rotation's overlap).
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(
    secrets_in_use: Iterable[str], *, message_id: str, timestamp: int, body: bytes
) -> str:
    return " ".join(
        signature(secret, message_id=message_id, timestamp=timestamp, body=body)
        for secret in secrets_in_use
    )
