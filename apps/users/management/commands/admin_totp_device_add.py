"""Enrol a TOTP device for a staff account, so it can sign in to the admin when
ADMIN_REQUIRE_2FA is on (docs/security.md):

    .venv/bin/python manage.py admin_totp_device_add admin@example.com --name "phone"

prints the otpauth:// address once: put it (or its QR code) into an authenticator app. The device
is confirmed at once: the operator at the console vouches for it. Devices are listed, and removed,
in the admin (OTP_TOTP > TOTP devices)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.users.models import User


class Command(BaseCommand):
    help = "Add a confirmed TOTP device to a staff account and print its otpauth:// address."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="authenticator")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"].strip(), is_staff=True).first()
        if user is None:
            raise CommandError(f"No staff account has the e-mail {options['email']!r}.")
        device = TOTPDevice.objects.create(user=user, name=options["name"], confirmed=True)
        self.stdout.write(device.config_url)
