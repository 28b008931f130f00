from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from apps.notifications.models import Channel, NotificationType


class NotificationOutput(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    # DRF's serializer metaclass pops declared fields off the class, so this does not shadow
    # Serializer.data; the stubs cannot model that.
    data = serializers.JSONField()  # type: ignore[assignment]
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class NotificationFeedQuery(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False)
    type = serializers.ChoiceField(choices=NotificationType.choices, required=False)


class UnreadCountOutput(serializers.Serializer):
    count = serializers.IntegerField()


class ReadAllOutput(serializers.Serializer):
    updated = serializers.IntegerField()


class PreferenceItem(serializers.Serializer):
    type = serializers.ChoiceField(choices=NotificationType.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    enabled = serializers.BooleanField()


class PreferencesOutput(serializers.Serializer):
    preferences = PreferenceItem(many=True)


# Every (type, channel) pair at most once: a longer list can only repeat one.
PREFERENCE_PAIRS = len(NotificationType.values) * len(Channel.values)


class PreferencesInput(serializers.Serializer):
    preferences: serializers.ListSerializer = serializers.ListSerializer(
        child=PreferenceItem(), allow_empty=False, max_length=PREFERENCE_PAIRS
    )

    def validate_preferences(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A pair named twice is ambiguous (which `enabled` wins?): refused at the repeat."""
        seen: set[tuple[str, str]] = set()
        errors: list[dict[str, Any]] = []
        for item in value:
            pair = (item["type"], item["channel"])
            errors.append(
                {
                    "non_field_errors": [
                        ErrorDetail(
                            "This type and channel appear earlier in the list.", code="duplicate"
                        )
                    ]
                }
                if pair in seen
                else {}
            )
            seen.add(pair)
        if any(errors):
            raise serializers.ValidationError(errors)
        return value


class StreamTicketOutput(serializers.Serializer):
    ticket = serializers.CharField()
    expires_in = serializers.IntegerField()
    url = serializers.CharField()
