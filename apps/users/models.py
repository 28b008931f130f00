import uuid
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from apps.core.models import BaseModel
from apps.core.text import validate_single_line


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: object) -> "User":
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> "User":
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        # Made by an operator at a console, not by someone who typed an address into a form.
        fields.setdefault("email_verified_at", timezone.now())
        return self.create_user(email, password, **fields)


# The ignore: reviews.Comment (user.comments) is a treebeard MP_Node; treebeard is untyped, so the
# plugin cannot resolve its default manager for the reverse accessor.
class User(AbstractBaseUser, PermissionsMixin):  # type: ignore[django-manager-missing]
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True, validators=[validate_single_line])
    phone = models.CharField(max_length=32, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # When the owner opened the link of the verification e-mail
    # (apps.users.services.accounts.email_verify). Null: not yet; with REQUIRE_EMAIL_VERIFICATION
    # such an account cannot place orders, review, comment, upload or open notification streams.
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ("email",)
        constraints = [
            # Emails are stored lower-cased; this keeps "A@x.com" and "a@x.com" one account even
            # if a row is written around the manager.
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email


class Session(models.Model):
    """One sign-in: what a login (or signup) starts and logout ends. Its id is the `sid` claim of
    every access and refresh token issued for it; a token is accepted only while its session
    exists and is not ended, and a refresh token only while it is the session's current one
    (`refresh_jti`): rotation replaces it, so presenting an older one is reuse
    (apps.users.services.sessions)."""

    class EndReason(models.TextChoices):
        LOGOUT = "logout", "Logged out"
        LOGOUT_ALL = "logout_all", "Logged out everywhere"
        PASSWORD_CHANGE = "password_change", "Password changed"
        PASSWORD_RESET = "password_reset", "Password reset"
        TOKEN_REUSE = "token_reuse", "Refresh token reused"
        STAFF = "staff", "Ended by staff"
        DEACTIVATION = "deactivation", "Account deactivated"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    created_at = models.DateTimeField(default=timezone.now)
    # The `jti` of the one refresh token of this session that may be rotated next.
    refresh_jti = models.CharField(max_length=64)
    refreshed_at = models.DateTimeField(default=timezone.now)
    # When that refresh token expires: past it the session can do nothing more.
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=20, choices=EndReason.choices, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True, ended_reason="")
                | (models.Q(ended_at__isnull=False) & ~models.Q(ended_reason="")),
                name="session_ended_with_a_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pk} ({self.created_at:%Y-%m-%d %H:%M})"


class Address(BaseModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="addresses")
    name = models.CharField(max_length=150, validators=[validate_single_line])
    line1 = models.CharField(max_length=200, validators=[validate_single_line])
    line2 = models.CharField(max_length=200, blank=True, validators=[validate_single_line])
    city = models.CharField(max_length=100, validators=[validate_single_line])
    state = models.CharField(max_length=100, blank=True, validators=[validate_single_line])
    postal_code = models.CharField(max_length=20, validators=[validate_single_line])
    country = models.CharField(max_length=2)
    phone = models.CharField(max_length=32)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ("-is_default", "-created_at")
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        return f"{self.name}, {self.line1}, {self.city}"


class ApiKey(BaseModel):
    """A client application's key. Only a hash of the secret is stored; the prefix is visible."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_secret = models.CharField(max_length=128)
    scopes = models.JSONField(default=list, blank=True)
    rate = models.CharField(max_length=32, blank=True, help_text="e.g. 1000/min; blank = default")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"
