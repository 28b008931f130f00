"""Input and output shapes of accounts, addresses and API keys."""

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.text import SingleLineField
from apps.users.countries import COUNTRY_CODES
from apps.users.selectors import user_roles, user_shop
from apps.users.services.api_keys import API_KEY_SCOPES

_PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-/]+$")


def validate_phone(value: str) -> str:
    """International-ish phone: optional leading +, digits and separators, 5 to 20 digits."""
    value = value.strip()
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE_CHARS.match(value) or not 5 <= digits <= 20:
        raise serializers.ValidationError(
            "Enter a phone number: digits, spaces, ()-./ and an optional leading +.",
            code="invalid_phone",
        )
    return value


# --- Users and auth


class ShopRefOutput(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()


class UserOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()
    phone = serializers.CharField()
    roles = serializers.SerializerMethodField()
    shop = serializers.SerializerMethodField()
    email_verified = serializers.SerializerMethodField()

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(["customer", "seller", "staff"]))
    )
    def get_roles(self, user: Any) -> list[str]:
        return user_roles(user)

    def get_email_verified(self, user: Any) -> bool:
        return user.email_verified_at is not None

    @extend_schema_field(ShopRefOutput(allow_null=True))
    def get_shop(self, user: Any) -> dict[str, Any] | None:
        shop = user_shop(user)
        return None if shop is None else ShopRefOutput(shop).data


class SignupInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    name = SingleLineField(max_length=150, required=False, allow_blank=True, default="")


class EmailVerifyInput(serializers.Serializer):
    token = serializers.CharField(max_length=1024)


class LoginInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class AuthOutput(serializers.Serializer):
    user = UserOutput()
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class PasswordResetInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmInput(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class PasswordChangeInput(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class MeUpdateInput(serializers.Serializer):
    """Only these fields; anything else in the body (email, is_staff, roles) is ignored."""

    name = SingleLineField(max_length=150, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)

    def validate_phone(self, value: str) -> str:
        return validate_phone(value) if value.strip() else ""


# --- Addresses


class AddressSerializer(serializers.Serializer):
    """A postal address. `country` is an ISO 3166-1 alpha-2 code (lower case is accepted and
    upper-cased); `line2` and `state` may be blank."""

    # Checkout reuses this for `shipping_address`.

    name = SingleLineField(max_length=150)
    line1 = SingleLineField(max_length=200)
    line2 = SingleLineField(max_length=200, required=False, allow_blank=True, default="")
    city = SingleLineField(max_length=100)
    state = SingleLineField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = SingleLineField(max_length=20)
    country = serializers.CharField(max_length=2, min_length=2)
    phone = serializers.CharField(max_length=32)

    def validate_country(self, value: str) -> str:
        code = value.strip().upper()
        if code not in COUNTRY_CODES:
            raise serializers.ValidationError(
                "Use an ISO 3166-1 alpha-2 country code such as US, DE or VN.",
                code="invalid_country",
            )
        return code

    def validate_phone(self, value: str) -> str:
        return validate_phone(value)


class AddressInput(AddressSerializer):
    is_default = serializers.BooleanField(required=False, default=False)


class AddressOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()
    phone = serializers.CharField()
    is_default = serializers.BooleanField()
    created_at = serializers.DateTimeField()


# --- API keys

_RATE = re.compile(r"^[1-9][0-9]{0,6}/(s|sec|second|m|min|minute|h|hour|d|day)$")


class ApiKeyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=API_KEY_SCOPES),
        required=False,
        default=list,
        max_length=len(API_KEY_SCOPES),
        help_text=(
            "`<area>:read` (GET) or `<area>:write` (any method) per API area; none: the whole "
            "API. A request outside them is 403 `auth.api_key_scope`."
        ),
    )
    rate = serializers.RegexField(
        _RATE,
        required=False,
        allow_blank=True,
        default="",
        max_length=32,
        error_messages={"invalid": "Use a rate like 1000/min (s, min, hour or day)."},
    )


class ApiKeyOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    rate = serializers.CharField()
    created_by = serializers.EmailField(source="created_by.email", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyCreatedOutput(ApiKeyOutput):
    key = serializers.CharField(
        allow_null=True,
        help_text="The full key, shown only in this response; null in an Idempotency-Key replay.",
    )
