from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.users.models import Address, ApiKey, Session, User
from apps.users.services.api_keys import api_key_revoke
from apps.users.services.sessions import session_end, session_revoke_all


class UserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email


class UserChangeForm(DjangoUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0
    fields = ("name", "line1", "city", "postal_code", "country", "phone", "is_default")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ("email",)
    list_display = ("email", "name", "phone", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "name", "phone")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "phone")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "name", "password1", "password2"),
            },
        ),
    )
    inlines = [AddressInline]
    actions = ["sign_out_everywhere"]

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Deactivation ends every session: reactivating the account later revives none.
            session_revoke_all(user=obj, reason=Session.EndReason.DEACTIVATION)

    @admin.action(
        description="Sign out everywhere (end every session: its access and refresh tokens)",
        permissions=["change"],
    )
    def sign_out_everywhere(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(queryset)
        ended = sum(session_revoke_all(user=user, reason=Session.EndReason.STAFF) for user in users)
        self.message_user(
            request,
            f"Signed out {len(users)} user(s) everywhere; ended {ended} session(s).",
            messages.SUCCESS,
        )


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "city", "country", "is_default")
    list_filter = ("country", "is_default")
    search_fields = ("name", "user__email", "city", "postal_code")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "rate", "created_by", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix")
    list_select_related = ("created_by",)
    fields = (
        "name",
        "prefix",
        "hashed_secret",
        "scopes",
        "rate",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = (
        "prefix",
        "hashed_secret",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The raw key must be shown once: issue keys with `manage.py create_api_key` or the API.
        return False

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        key_ids = list(queryset.values_list("pk", flat=True))
        for key_id in key_ids:
            api_key_revoke(key_id=key_id)
        self.message_user(request, f"Revoked {len(key_ids)} key(s).", messages.SUCCESS)


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    """Sign-in sessions, read-only: staff end them with the action, never edit or delete them
    (a deleted session's tokens are refused as unknown, an edited one could be revived)."""

    list_display = ("id", "user", "created_at", "refreshed_at", "expires_at", "ended_at")
    list_filter = (("ended_at", admin.EmptyFieldListFilter), "ended_reason")
    search_fields = ("user__email", "=id")
    list_select_related = ("user",)
    ordering = ("-created_at",)
    fields = (
        "id",
        "user",
        "created_at",
        "refreshed_at",
        "expires_at",
        "ended_at",
        "ended_reason",
    )
    readonly_fields = fields
    actions = ["end_sessions"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Viewing only; the action checks the "end" right itself (change on the user).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_end_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("users.change_user")

    @admin.action(description="End the selected sessions", permissions=["end"])
    def end_sessions(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        ended = sum(session_end(session=session) for session in queryset.order_by("pk"))
        self.message_user(request, f"Ended {ended} session(s).", messages.SUCCESS)
