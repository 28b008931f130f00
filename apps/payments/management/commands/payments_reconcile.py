"""`manage.py payments_reconcile [--since ISO] [--until ISO] [--fix]`: compare the payments of a
period with the provider's records and report the differences (see apps.payments.reconcile)."""

from argparse import ArgumentParser
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.payments.reconcile import payments_reconcile
from apps.payments.sweep import payments_sweep


def moment(text: str) -> datetime:
    """An ISO date (midnight UTC) or date-time; naive times are UTC."""
    value = parse_datetime(text)
    if value is None:
        day = parse_date(text)
        if day is None:
            raise CommandError(f"not a date or date-time: {text!r}")
        value = datetime.combine(day, time.min, tzinfo=UTC)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


class Command(BaseCommand):
    help = "Compare local payments with the provider's for a period; --fix repairs what it can."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--since", type=moment, help="ISO date or time (default: 7 days ago)")
        parser.add_argument("--until", type=moment, help="ISO date or time (default: now)")
        parser.add_argument(
            "--fix",
            action="store_true",
            help="apply missed webhooks, record refunds made, then run the sweep",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        until = options["until"] or timezone.now()
        since = options["since"] or until - timedelta(days=7)
        if since >= until:
            raise CommandError("--since must be before --until")
        checked = differences = fixed = 0
        for difference in payments_reconcile(since=since, until=until, fix=options["fix"]):
            differences += 1
            fixed += difference.fixed
            self.stdout.write(str(difference))
        if options["fix"]:
            for outcome, count in sorted(payments_sweep().items()):
                self.stdout.write(f"sweep: {outcome} {count}")
        checked = _count(since, until)
        self.stdout.write(
            f"{checked} payment(s) from {since.isoformat()} to {until.isoformat()}: "
            f"{differences} difference(s), {fixed} fixed."
        )


def _count(since: datetime, until: datetime) -> int:
    from apps.payments.models import Payment

    return Payment.objects.filter(created_at__gte=since, created_at__lt=until).count()
