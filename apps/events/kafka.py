"""Kafka sink: an idempotent producer (acks=all) whose delivery reports are all checked."""

import logging
import threading
from collections.abc import Sequence
from typing import Any

import orjson
from confluent_kafka import KafkaException, Producer
from django.conf import settings

from apps.events.envelope import kafka_value
from apps.events.models import OutboxEvent

logger = logging.getLogger(__name__)

_producers: dict[tuple, Producer] = {}
_producers_guard = threading.Lock()


def kafka_enabled() -> bool:
    return bool(settings.KAFKA_BOOTSTRAP_SERVERS)


def topic_name(event: OutboxEvent) -> str:
    return f"{settings.KAFKA_TOPIC_PREFIX}{event.topic}"


def _config() -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "enable.idempotence": True,
        "acks": "all",
        "message.timeout.ms": settings.KAFKA_MESSAGE_TIMEOUT_MS,
        "linger.ms": 5,
        "compression.type": "none",
        "client.id": "marketplace-outbox-relay",
        **settings.KAFKA_PRODUCER_CONFIG,
    }


def _producer() -> Producer:
    config = _config()
    key = tuple(sorted((k, str(v)) for k, v in config.items()))
    with _producers_guard:
        producer = _producers.get(key)
        if producer is None:
            producer = _producers[key] = Producer(config)
        return producer


def _discard(producer: Producer) -> None:
    """After a failure start afresh: an idempotent producer may be left in a fatal state."""
    with _producers_guard:
        for key, value in list(_producers.items()):
            if value is producer:
                del _producers[key]
    try:
        producer.purge()  # drop what is still queued: the outbox rows remain the source of truth
        producer.flush(0)
    except KafkaException:  # pragma: no cover - best effort
        pass


def publish(events: Sequence[OutboxEvent]) -> list[str | None]:
    """Produce `events` in order and wait for every delivery report.

    Returns one entry per event: None when the broker acknowledged it (acks=all), else the error.
    """
    if not events:
        return []
    producer = _producer()
    results: list[str | None] = ["no delivery report"] * len(events)

    def report(index: int):
        def on_delivery(err: Any, _msg: Any) -> None:
            results[index] = None if err is None else str(err)

        return on_delivery

    try:
        for index, event in enumerate(events):
            while True:
                try:
                    producer.produce(
                        topic_name(event),
                        key=event.key.encode(),
                        value=orjson.dumps(kafka_value(event)),
                        headers={
                            **event.context,  # request_id, traceparent (apps.core.observability)
                            "event_type": event.type,
                            "event_id": str(event.id),
                        },
                        on_delivery=report(index),
                    )
                    break
                except BufferError:  # local queue full: let deliveries drain, then go on
                    producer.poll(0.5)
        remaining = producer.flush(settings.KAFKA_MESSAGE_TIMEOUT_MS / 1000 + 5)
        if remaining:
            logger.warning("%d Kafka messages still in flight after flush timeout", remaining)
    except KafkaException as exc:
        logger.warning("Kafka produce failed: %s", exc)
        results = [r if r is None else str(exc) for r in results]
    if any(r is not None for r in results):
        _discard(producer)
    return results


def close_producers(timeout: float = 5.0) -> None:
    """Flush and drop the cached producers (process shutdown; tests stopping their broker)."""
    with _producers_guard:
        producers = list(_producers.values())
        _producers.clear()
    for producer in producers:
        producer.flush(timeout)
        del producer
