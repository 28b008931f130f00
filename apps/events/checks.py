"""Start-up checks of the relay's settings."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def kafka_wait_fits_in_the_lease(**_: Any) -> list[CheckMessage]:
    """A batch waits for Kafka's delivery reports up to the message timeout plus 5 s; if that
    outlived the relay's lease, another relay could take over mid-batch and publish out of
    order."""
    wait = settings.KAFKA_MESSAGE_TIMEOUT_MS / 1000 + 5
    if wait < settings.EVENTS_RELAY_LOCK_TTL:
        return []
    return [
        Error(
            f"KAFKA_MESSAGE_TIMEOUT_MS + 5 s ({wait:g} s) must be shorter than "
            f"EVENTS_RELAY_LOCK_TTL_SECONDS ({settings.EVENTS_RELAY_LOCK_TTL} s).",
            hint="Lower KAFKA_MESSAGE_TIMEOUT_MS or raise EVENTS_RELAY_LOCK_TTL_SECONDS.",
            id="events.E001",
        )
    ]
