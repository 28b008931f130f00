"""Relay: delivers pending outbox events to Kafka and in-process subscribers. (Issue 3 fills in.)"""


def schedule_relay() -> None:
    """Called after a commit that wrote events."""
    from apps.events.dispatch import relay_pending

    relay_pending()
