"""Accounts: signup, login, e-mail verification, password change and reset, profile."""

import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from apps.core.errors import InvalidInput, field_error
from apps.events.task_outbox import task_enqueue
from apps.users.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidResetToken,
    InvalidVerificationToken,
    LoginLockedOut,
    WrongPassword,
)
from apps.users.login_failures import (
    login_failure_record,
    login_failures_clear,
    login_lockout_remaining,
)
from apps.users.models import Session, User
from apps.users.services.sessions import sessions_end


def password_check(*, password: str, user: User, pointer: str) -> None:
    """Django's AUTH_PASSWORD_VALIDATORS; failures become 400 with one error per rule."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise InvalidInput(
            "The password is too weak.",
            errors=[
                field_error(pointer, error.code or "invalid", message)
                for error in exc.error_list
                for message in error.messages
            ],
        ) from exc


# --- Accounts


EMAIL_TAKEN_DETAIL = "An account with this e-mail already exists; sign in or reset the password."


def user_signup(*, email: str, password: str, name: str) -> User:
    """Create a customer account and queue its verification e-mail (sent after commit). Raises
    EmailTaken (case-insensitive) or InvalidInput."""
    email = User.objects.normalize_email(email).strip().lower()
    candidate = User(email=email, name=name)
    password_check(password=password, user=candidate, pointer="/password")
    # The answer never repeats the address: a page or a log that shows the body must not
    # turn it into a list of registered e-mails.
    if User.objects.filter(email__iexact=email).exists():
        raise EmailTaken(EMAIL_TAKEN_DETAIL)
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, name=name)
            email_verification_request(user=user)
    except IntegrityError as exc:  # a concurrent signup won the race
        raise EmailTaken(EMAIL_TAKEN_DETAIL) from exc
    return user


# --- E-mail verification: a signed link, so nothing is stored until it is used

EMAIL_VERIFICATION_SALT = "apps.users.email-verification"


def email_verification_claims(*, user_id: Any, email: str) -> dict[str, str]:
    """What a verification token says: the account, and a digest of the address it was sent to
    (a changed address voids the link; the address itself stays out of URLs and their logs)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return {"user": str(user_id), "email": digest}


def email_verification_token(*, user: User) -> str:
    """A token for the verification link (`email_verification_claims`), signed with SECRET_KEY
    (Django's signing, salted) and timestamped; it expires after EMAIL_VERIFICATION_MAX_AGE."""
    return signing.dumps(
        email_verification_claims(user_id=user.pk, email=user.email),
        salt=EMAIL_VERIFICATION_SALT,
    )


def email_verification_request(*, user: User) -> bool:
    """Queue the verification e-mail (sent after the caller's transaction commits) unless the
    address is verified already. Returns whether one was queued."""
    from apps.users.tasks import send_email_verification

    if user.email_verified_at is not None or not user.is_active:
        return False
    task_enqueue(send_email_verification, user_id=str(user.pk))
    return True


def email_verify(*, token: str) -> User:
    """Mark the account of a verification link verified (idempotent: a second use changes
    nothing). Raises InvalidVerificationToken for a token that is forged, expired, of a
    deactivated account or of an address the account no longer has."""
    invalid = InvalidVerificationToken("The verification link is invalid or has expired.")
    try:
        claims = signing.loads(
            token,
            salt=EMAIL_VERIFICATION_SALT,
            max_age=settings.EMAIL_VERIFICATION_MAX_AGE,
        )
    except signing.BadSignature as exc:  # SignatureExpired is one
        raise invalid from exc
    user = User.objects.filter(pk=claims["user"], is_active=True).first()
    if user is None or email_verification_claims(user_id=user.pk, email=user.email) != claims:
        raise invalid
    User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(
        email_verified_at=timezone.now()
    )
    user.refresh_from_db(fields=["email_verified_at"])
    return user


def user_login(
    *, request: HttpRequest | None, email: str, password: str, address: str = ""
) -> User:
    """Check credentials; the same error for an unknown email and a wrong password. Failures
    are counted per (email, client `address`): a pair that reached the limit raises LoginLockedOut
    (429, `retry_after`) without checking the password, the right one included, until its
    back-off has passed (apps.users.login_failures). A success clears the pair's count."""
    email = email.strip().lower()
    locked_for = login_lockout_remaining(email=email, address=address)
    if locked_for:
        raise LoginLockedOut(
            f"Too many failed sign-ins for this e-mail from this address. Retry in {locked_for} "
            "seconds, or reset the password.",
            retry_after=locked_for,
        )
    user = authenticate(request, email=email, password=password)
    if user is None:
        login_failure_record(email=email, address=address)
        raise InvalidCredentials("The email or password is wrong.")
    login_failures_clear(email=email, address=address)
    return user


def user_update(*, user: User, name: str | None = None, phone: str | None = None) -> User:
    fields = []
    if name is not None:
        user.name = name
        fields.append("name")
    if phone is not None:
        user.phone = phone
        fields.append("phone")
    if fields:
        user.save(update_fields=fields)
    return user


def user_password_change(
    *, user: User, old_password: str, new_password: str, keep_session: str | None
) -> None:
    """Change the password and end every other session (their access and refresh tokens are
    refused from now on); `keep_session`, the caller's session id (`token_session(request.auth)`),
    goes on. Raises WrongPassword or InvalidInput (weak password); then nothing changes."""
    if not user.check_password(old_password):
        raise WrongPassword(
            "The current password is wrong.",
            errors=[field_error("/old_password", "wrong_password", "Wrong password.")],
        )
    password_check(password=new_password, user=user, pointer="/new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        sessions_end(
            user_id=user.pk, reason=Session.EndReason.PASSWORD_CHANGE, keep_session=keep_session
        )


def password_reset_request(*, email: str) -> None:
    """Queue a reset email if an active account has this email; silent otherwise."""
    from apps.users.tasks import send_password_reset_email

    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is not None and user.has_usable_password():
        task_enqueue(send_password_reset_email, user_id=str(user.pk))


def password_reset_link(*, user: User) -> tuple[str, str]:
    """(uid, token): the token is one-time because it hashes the password and last login."""
    return urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link and end every session (their access and refresh
    tokens are refused from now on). Raises InvalidResetToken or InvalidInput (weak password)."""
    try:
        user_id = uuid.UUID(force_str(urlsafe_base64_decode(uid)))
        user = User.objects.get(pk=user_id, is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist) as exc:
        raise InvalidResetToken("The reset link is invalid or has expired.") from exc
    if not default_token_generator.check_token(user, token):
        raise InvalidResetToken("The reset link is invalid or has expired.")
    password_check(password=new_password, user=user, pointer="/new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        sessions_end(user_id=user.pk, reason=Session.EndReason.PASSWORD_RESET)
    return user
