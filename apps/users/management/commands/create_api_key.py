from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.users.api.serializers import ApiKeyCreateInput
from apps.users.services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Issue an API key for a client application. The key is printed once; keep it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Who uses the key, e.g. 'web storefront'.")
        parser.add_argument("--rate", default="", help="Throttle rate, e.g. 1000/min.")
        parser.add_argument("--scopes", default="", help="Comma-separated scopes.")

    def handle(self, *args: Any, **options: Any) -> None:
        scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
        body = ApiKeyCreateInput(
            data={"name": options["name"], "rate": options["rate"], "scopes": scopes}
        )
        if not body.is_valid():
            raise CommandError(
                "; ".join(
                    f"{field}: {' '.join(map(str, errs))}" for field, errs in body.errors.items()
                )
            )
        key, raw = api_key_create(**body.validated_data)
        self.stdout.write(f"API key '{key.name}' (id {key.pk}, prefix {key.prefix}):")
        self.stdout.write(raw)
        self.stdout.write("Send it as the X-Api-Key header. It is shown only now.")
