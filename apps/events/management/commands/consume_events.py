import time

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.events.signals import stop_on_signals


class Command(BaseCommand):
    help = (
        "Print events from a Kafka topic, one JSON line each (ops aid). Offsets are committed for "
        "--group, so the next run continues where this one stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--topic", required=True, help="e.g. orders (KAFKA_TOPIC_PREFIX added)")
        parser.add_argument("--group", default="marketplace-ops-console")
        parser.add_argument("--max", type=int, default=None, help="stop after N events")
        parser.add_argument(
            "--from-beginning", action="store_true", help="ignore committed offsets"
        )
        parser.add_argument(
            "--idle-timeout", type=float, default=None, help="stop after N seconds without events"
        )

    def handle(self, *args, topic, group, max, from_beginning, idle_timeout, **options):
        if not settings.KAFKA_BOOTSTRAP_SERVERS:
            raise CommandError("KAFKA_BOOTSTRAP_SERVERS is not set")
        name = f"{settings.KAFKA_TOPIC_PREFIX}{topic}"
        consumer = Consumer(
            {
                "bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        try:
            metadata = consumer.list_topics(name, timeout=10)
            partitions = metadata.topics[name].partitions if name in metadata.topics else {}
            if not partitions or metadata.topics[name].error is not None:
                raise CommandError(f"topic {name} does not exist")
            # Explicit assignment with the group's committed offsets: starts at once, and the
            # group still records progress (no rebalance wait for a one-person console).
            wanted = [TopicPartition(name, p) for p in sorted(partitions)]
            if from_beginning:
                start = [TopicPartition(name, tp.partition, OFFSET_BEGINNING) for tp in wanted]
            else:
                start = [
                    TopicPartition(
                        name, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
                    )
                    for tp in consumer.committed(wanted, timeout=10)
                ]
            consumer.assign(start)
            self._print(consumer, max, idle_timeout)
        except KafkaException as exc:
            raise CommandError(f"Kafka: {exc}") from exc
        finally:
            consumer.close()

    def _print(self, consumer: Consumer, max: int | None, idle_timeout: float | None) -> None:
        seen = 0
        last = time.monotonic()
        with stop_on_signals() as stop:
            while not stop.is_set() and (max is None or seen < max):
                message = consumer.poll(0.5)
                if message is None:
                    if idle_timeout is not None and time.monotonic() - last > idle_timeout:
                        break
                    continue
                if message.error():
                    self.stderr.write(str(message.error()))
                    continue
                last = time.monotonic()
                seen += 1
                raw = message.value()
                if raw is None:  # a tombstone (another producer's: the relay sends none)
                    value: dict = {"value": None}
                else:
                    try:
                        value = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        value = {"raw": raw.decode(errors="replace")}
                key = message.key()
                line = {
                    "topic": message.topic(),
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "key": key.decode() if key else None,
                    **value,
                }
                self.stdout.write(orjson.dumps(line).decode())
                consumer.commit(message=message, asynchronous=False)
