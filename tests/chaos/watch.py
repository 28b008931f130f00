"""What reaches Kafka, and when: a consumer reading the stack's `orders` topic from its first
offset for the whole test, noting the arrival time of every event."""

import threading
import time
import uuid

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition


class KafkaWatch:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._arrivals: dict[str, list[float]] = {}  # event id -> time.monotonic() of each copy
        self._placed: dict[str, str] = {}  # order id -> its order.placed event id
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kafka-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def arrivals(self) -> dict[str, list[float]]:
        with self._lock:
            return {event: list(times) for event, times in self._arrivals.items()}

    def placed(self) -> dict[str, float]:
        """Order id -> when its order.placed event first reached Kafka."""
        with self._lock:
            return {order: min(self._arrivals[event]) for order, event in self._placed.items()}

    def _run(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"chaos-watch-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 100,
            }
        )
        try:
            while not self._stop.is_set() and not self._assign(consumer):
                self._stop.wait(0.5)
            while not self._stop.is_set():
                message = consumer.poll(0.2)
                if message is not None and not message.error():
                    self._record(orjson.loads(message.value()), time.monotonic())
        finally:
            consumer.close()

    def _assign(self, consumer: Consumer) -> bool:
        """Read every partition from the start, once the relay has created the topic."""
        try:
            topic = consumer.list_topics(self.topic, timeout=2).topics.get(self.topic)
        except KafkaException:
            return False
        if topic is None or topic.error is not None or not topic.partitions:
            return False
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in topic.partitions])
        return True

    def _record(self, value: dict, arrived: float) -> None:
        with self._lock:
            self._arrivals.setdefault(value["event_id"], []).append(arrived)
            if value["type"] == "order.placed":
                self._placed[value["data"]["order_id"]] = value["event_id"]
