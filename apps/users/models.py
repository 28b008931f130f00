import uuid
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from apps.core.models import BaseModel
from apps.core.slugs import validate_slug_not_uuid


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
        return self.create_user(email, password, **fields)


# The ignore: reviews.Comment (user.comments) is a treebeard MP_Node; treebeard is untyped, so the
# plugin cannot resolve its default manager for the reverse accessor.
class User(AbstractBaseUser, PermissionsMixin):  # type: ignore[django-manager-missing]
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # When every session was last ended (logout-all, a password change or reset, refresh-token
    # reuse, the admin's "sign out everywhere"). Null: never.
    tokens_valid_after = models.DateTimeField(null=True, blank=True)
    # How many times every session was ended. Each token carries the value at its issue (the
    # `gen` claim) and is refused once it is lower, but the kept session's; tokens from before
    # generations follow `tokens_valid_after` (apps.core.authentication.token_revoked).
    tokens_generation = models.PositiveIntegerField(default=0, editable=False)
    # The session (the `sid` claim of its tokens) that the last revocation spared: a password
    # change keeps the caller's session. Null: none spared.
    tokens_kept_session = models.UUIDField(null=True, blank=True, editable=False)

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

    @property
    def roles(self) -> list[str]:
        roles = ["customer"]
        if Shop.objects.filter(owner_id=self.pk).exists():
            roles.append("seller")
        if self.is_staff:
            roles.append("staff")
        return roles


class EndedSession(models.Model):
    """A session (the `sid` claim of its tokens) ended by logout.

    `auth/refresh` refuses every refresh token of an ended session, rotated or not, with
    `auth.token_revoked`: a rotated one is no sign of theft once its session is over, and a
    rotation racing the logout cannot keep the session alive (apps.users.services). A row is
    useless once its session's refresh tokens have expired (`JWT_REFRESH_DAYS` after `ended_at`,
    plus the few seconds a racing rotation may take)."""

    session_id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    ended_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.session_id} ({self.ended_at:%Y-%m-%d %H:%M})"


class Address(BaseModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="addresses")
    name = models.CharField(max_length=150)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2)
    phone = models.CharField(max_length=32)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ("-is_default", "-created_at")


# The ignore: catalog.Category (shop.categories) is a treebeard MP_Node (untyped), as above.
class Shop(BaseModel):  # type: ignore[django-manager-missing]
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    owner = models.OneToOneField(User, on_delete=models.PROTECT, related_name="shop")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True, validators=[validate_slug_not_uuid])
    description = models.TextField(blank=True)
    logo = models.ForeignKey(
        "media.MediaAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shipping_fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    free_shipping_threshold = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Denormalised counters kept by services with F() updates.
    follower_count = models.PositiveIntegerField(default=0)
    product_count = models.PositiveIntegerField(default=0)
    rating_avg = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0.00"))
    rating_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(
                condition=Q(shipping_fee__gte=0), name="shop_shipping_fee_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ShopFollow(BaseModel):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="follows")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "user"], name="shopfollow_unique"),
        ]


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

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"
