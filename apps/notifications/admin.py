from django.contrib import admin, messages

from apps.notifications.models import Announcement, EmailDelivery, Notification
from apps.notifications.services import announcement_send


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "type", "recipient", "title", "in_app", "read_at")
    list_filter = ("type", "in_app", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("recipient__email", "title")
    readonly_fields = [f.name for f in Notification._meta.fields]
    list_select_related = ("recipient",)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin):
    list_display = ("notification", "sent_at", "attempts", "last_error")
    list_filter = (("sent_at", admin.EmptyFieldListFilter),)
    readonly_fields = ("notification", "sent_at", "attempts", "last_error")
    list_select_related = ("notification",)

    def has_add_permission(self, request) -> bool:
        return False  # made by the email task, once per notification (a form has no fields)


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = ("title", "created_at", "created_by", "sent_at")
    readonly_fields = ("created_by", "sent_at")
    list_select_related = ("created_by",)
    actions = ["send"]

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Send to all active users", permissions=["change"])
    def send(self, request, queryset) -> None:
        sent = sum(announcement_send(announcement=a) for a in queryset)
        self.message_user(request, f"{sent} announcement(s) queued.", messages.SUCCESS)
