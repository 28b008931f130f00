from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.users.models import Address, ApiKey, Shop, ShopFollow, User
from apps.users.services import api_key_revoke, session_revoke_all


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
    readonly_fields = (
        "last_login",
        "date_joined",
        "tokens_valid_after",
        "tokens_generation",
        "tokens_kept_session",
    )
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "phone")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (
            "Dates",
            {
                "fields": (
                    "last_login",
                    "date_joined",
                    "tokens_valid_after",
                    "tokens_generation",
                    "tokens_kept_session",
                )
            },
        ),
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

    @admin.action(description="Sign out everywhere (revoke every access and refresh token)")
    def sign_out_everywhere(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(queryset)
        revoked = sum(session_revoke_all(user=user) for user in users)
        self.message_user(
            request,
            f"Signed out {len(users)} user(s) everywhere; revoked {revoked} refresh token(s).",
            messages.SUCCESS,
        )


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "owner", "status", "follower_count", "product_count")
    list_filter = ("status",)
    search_fields = ("name", "slug", "owner__email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "logo")
    readonly_fields = ("follower_count", "product_count", "rating_avg", "rating_count")
    actions = ["suspend", "activate"]

    @admin.action(description="Suspend selected shops (hidden from the public)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        updated = queryset.update(status=Shop.Status.SUSPENDED)
        self.message_user(request, f"Suspended {updated} shop(s).", messages.SUCCESS)

    @admin.action(description="Activate selected shops")
    def activate(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        updated = queryset.update(status=Shop.Status.ACTIVE)
        self.message_user(request, f"Activated {updated} shop(s).", messages.SUCCESS)


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "city", "country", "is_default")
    list_filter = ("country", "is_default")
    search_fields = ("name", "user__email", "city", "postal_code")
    list_select_related = ("user",)
    raw_id_fields = ("user",)


@admin.register(ShopFollow)
class ShopFollowAdmin(admin.ModelAdmin):
    list_display = ("shop", "user", "created_at")
    search_fields = ("shop__name", "user__email")
    list_select_related = ("shop", "user")
    raw_id_fields = ("shop", "user")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # follows move the shop's counter; they change through the API only

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(key_id=key.pk)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
