from rest_framework import serializers

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


class PreferencesInput(serializers.Serializer):
    preferences = PreferenceItem(many=True, allow_empty=False)


class StreamTicketOutput(serializers.Serializer):
    ticket = serializers.CharField()
    expires_in = serializers.IntegerField()
    url = serializers.CharField()
