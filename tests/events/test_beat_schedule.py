"""The beat schedule."""


def test_no_periodic_task_expires_into_a_dead_letter_queue(settings):
    """Celery sends `expires` as the message's TTL and RabbitMQ dead-letters expired messages: a
    sweep that was merely late (the worker behind) would raise a false dead-letter alarm."""
    assert settings.CELERY_BEAT_SCHEDULE
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert "expires" not in entry.get("options", {}), name
