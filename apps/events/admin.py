from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.events.models import OutboxEvent, ProcessedEvent
from apps.events.services import events_republish


class PublishedFilter(admin.SimpleListFilter):
    title = "published"
    parameter_name = "published"

    def lookups(self, request, model_admin):
        return (("yes", "Published"), ("no", "Pending"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(published_at=None)
        if self.value() == "no":
            return queryset.filter(published_at=None)
        return queryset


class FailedFilter(admin.SimpleListFilter):
    title = "failed"
    parameter_name = "failed"

    def lookups(self, request, model_admin):
        return (("yes", "Failed at least once"), ("no", "Never failed"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(attempts__gt=0)
        if self.value() == "no":
            return queryset.filter(attempts=0)
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ("seq", "type", "topic", "key", "occurred_at", "published_at", "attempts")
    list_filter = ("type", PublishedFilter, FailedFilter, "topic")
    search_fields = ("key", "=id")
    ordering = ("-seq",)
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
    actions = ("republish",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_republish_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.change_outboxevent")

    @admin.action(description="Re-publish selected events", permissions=["republish"])
    def republish(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        count = events_republish(event_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} event(s) queued for re-publishing.", messages.SUCCESS)


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(admin.ModelAdmin):
    list_display = ("consumer", "event_id", "processed_at")
    list_filter = ("consumer",)
    search_fields = ("=event_id",)
    readonly_fields = ("consumer", "event_id", "processed_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
