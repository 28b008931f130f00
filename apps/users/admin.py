from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework_simplejwt.token_blacklist.admin import BlacklistedTokenAdmin
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from apps.core.admin_refusals import ServiceRefusalsAdmin
from apps.users.models import Address, ApiKey, Shop, ShopFollow, User
from apps.users.request_user import request_user
from apps.users.services import (
    api_key_revoke,
    session_revoke_all,
    shop_create,
    shop_status_set,
    shop_update,
)


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

    @admin.action(
        description="Sign out everywhere (revoke every access and refresh token)",
        permissions=["change"],
    )
    def sign_out_everywhere(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(queryset)
        revoked = sum(session_revoke_all(user=user) for user in users)
        self.message_user(
            request,
            f"Signed out {len(users)} user(s) everywhere; revoked {revoked} refresh token(s).",
            messages.SUCCESS,
        )


@admin.register(Shop)
class ShopAdmin(ServiceRefusalsAdmin):
    """Changes go through the services, which write only the changed columns (the counters,
    kept by F() updates, are never written back) and emit `shop.updated`, so the storefront's
    cached products show the new name or status. The owner and the slug stay, as in the API."""

    list_display = ("name", "slug", "owner", "status", "follower_count", "product_count")
    list_filter = ("status",)
    search_fields = ("name", "slug", "owner__email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "logo")
    readonly_fields = ("follower_count", "product_count", "rating_avg", "rating_count")
    actions = ["suspend", "activate"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The slug comes from the name on creation (shop_create, as in the API) and stays.
        if obj is None:
            return ("slug", *self.readonly_fields)
        return ("owner", "slug", *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Shop, form: Any, change: bool) -> None:
        if not change:
            new = form.cleaned_data
            shop = shop_create(
                owner=new["owner"],
                name=new["name"],
                description=new.get("description", ""),
                shipping_fee=new["shipping_fee"],
                free_shipping_threshold=new.get("free_shipping_threshold"),
            )
            if new.get("logo") is not None:
                shop_update(
                    shop=shop, actor=request_user(request), data={"logo_id": new["logo"].pk}
                )
            if new.get("status") and new["status"] != shop.status:
                shop_status_set(shop=shop, status=new["status"])
            # The admin goes on with `obj` (log entry, message, redirect): make it the saved row.
            obj.__dict__.update(Shop.objects.get(pk=shop.pk).__dict__)
            return
        changed = set(form.changed_data)
        data: dict[str, Any] = {name: form.cleaned_data[name] for name in changed}
        if "logo" in changed:
            data["logo_id"] = obj.logo_id
        shop_update(shop=obj, actor=request_user(request), data=data)
        if "status" in changed:
            shop_status_set(shop=obj, status=obj.status)

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Shop], status: str) -> int:
        return sum(shop_status_set(shop=shop, status=status) for shop in queryset)

    @admin.action(
        description="Suspend selected shops (hidden from the public)", permissions=["change"]
    )
    def suspend(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        updated = self._set_status(request, queryset, Shop.Status.SUSPENDED)
        self.message_user(request, f"Suspended {updated} shop(s).", messages.SUCCESS)

    @admin.action(description="Activate selected shops", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Shop]) -> None:
        updated = self._set_status(request, queryset, Shop.Status.ACTIVE)
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

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        key_ids = list(queryset.values_list("pk", flat=True))
        for key_id in key_ids:
            api_key_revoke(key_id=key_id)
        self.message_user(request, f"Revoked {len(key_ids)} key(s).", messages.SUCCESS)


# simplejwt's own admin lets staff add, edit and delete blacklist entries: deleting one would make
# a revoked refresh token usable again. Tokens are revoked by logout and "Sign out everywhere".
admin.site.unregister(BlacklistedToken)


@admin.register(BlacklistedToken)
class ReadOnlyBlacklistedTokenAdmin(BlacklistedTokenAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
