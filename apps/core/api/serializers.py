from rest_framework import serializers

CHECK_CHOICES = ["ok", "error", "skipped"]


class HealthChecksOutput(serializers.Serializer):
    database = serializers.ChoiceField(choices=CHECK_CHOICES)
    cache = serializers.ChoiceField(choices=CHECK_CHOICES)
    broker = serializers.ChoiceField(choices=CHECK_CHOICES)
    kafka = serializers.ChoiceField(choices=CHECK_CHOICES)


class HealthOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "error"])
    checks = HealthChecksOutput()


class LiveOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok"])
