"""Account emails (password reset, e-mail verification), sent by a worker so the API answers in
the same time for any email, and the daily prune of session records nothing can use any more."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from apps.users.models import User
from config.celery import RetryingTask, app


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_password_reset_email(user_id: str) -> None:
    from apps.users.services.accounts import password_reset_link

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    uid, token = password_reset_link(user=user)
    context = {
        "user": user,
        "uid": uid,
        "token": token,
        "store_name": settings.STORE_NAME,
        "reset_url": f"{settings.FRONTEND_URL.rstrip('/')}/reset-password?uid={uid}&token={token}",
    }
    subject = render_to_string("users/password_reset_subject.txt", context).strip()
    body = render_to_string("users/password_reset_email.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


@app.task(base=RetryingTask, name="users.prune_sessions", ignore_result=True)
def prune_sessions() -> int:
    """Delete the sessions ended or expired more than a refresh token's lifetime ago
    (apps.users.services.sessions.sessions_prune). Returns how many."""
    from apps.users.services.sessions import sessions_prune

    return sessions_prune()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_email_verification(user_id: str) -> None:
    """The verification e-mail of a new (or asking again) account that is not verified yet."""
    from apps.users.services.accounts import email_verification_token

    user = User.objects.filter(pk=user_id, is_active=True, email_verified_at__isnull=True).first()
    if user is None:
        return
    token = email_verification_token(user=user)
    context = {
        "user": user,
        "token": token,
        "store_name": settings.STORE_NAME,
        "verify_url": f"{settings.FRONTEND_URL.rstrip('/')}/verify-email?token={token}",
        "max_age_hours": int(settings.EMAIL_VERIFICATION_MAX_AGE.total_seconds() // 3600),
    }
    subject = render_to_string("users/email_verification_subject.txt", context).strip()
    body = render_to_string("users/email_verification_email.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
