from typing import Any


def on_event(envelope: dict[str, Any]) -> None:
    """Event subscriber: the relay calls it in its handler transaction, so the delivery rows and
    their tasks (sent after commit, kept while RabbitMQ is down) commit with the handling. A
    redelivered event adds nothing: each (endpoint, event) row is unique and only the rows this
    call inserted are queued (so no dedupe record is written for the many events that no
    endpoint subscribes to)."""
    from apps.webhooks.services import deliveries_record

    deliveries_record(envelope=envelope)
