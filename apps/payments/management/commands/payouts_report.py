"""`manage.py payouts_report --from DATE --to DATE [--output FILE]`: the payouts recorded in a
period as CSV (stdout by default), one row per payout, with each shop's balance now."""

import csv
from argparse import ArgumentParser
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from apps.payments.ledger import shop_balance
from apps.payments.models import Payout

COLUMNS = (
    "payout_id",
    "created_at",
    "shop_id",
    "shop_slug",
    "shop_name",
    "amount",
    "currency",
    "reference",
    "recorded_by",
    "shop_available_now",
    "shop_pending_now",
)


def day(text: str) -> date:
    value = parse_date(text)
    if value is None:
        raise CommandError(f"not a date (YYYY-MM-DD): {text!r}")
    return value


class Command(BaseCommand):
    help = "Write the payouts of a period as CSV."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--from", dest="start", type=day, required=True, help="ISO date")
        parser.add_argument(
            "--to", dest="end", type=day, required=True, help="ISO date (inclusive)"
        )
        parser.add_argument("--output", help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        start = datetime.combine(options["start"], time.min, tzinfo=UTC)
        end = datetime.combine(options["end"] + timedelta(days=1), time.min, tzinfo=UTC)
        if start >= end:
            raise CommandError("--from must be before --to")
        payouts = (
            Payout.objects.filter(created_at__gte=start, created_at__lt=end)
            .select_related("shop", "created_by")
            .order_by("created_at")
        )
        if options["output"]:
            with open(options["output"], "w", newline="") as out:
                count = self._write(out, payouts)
            self.stderr.write(f"{count} payout(s) written to {options['output']}.")
        else:
            self._write(self.stdout, payouts)

    def _write(self, out: Any, payouts: Any) -> int:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        balances: dict[Any, Any] = {}
        count = 0
        for payout in payouts.iterator(chunk_size=500):
            if payout.shop_id not in balances:
                balances[payout.shop_id] = shop_balance(shop_id=payout.shop_id)
            balance = balances[payout.shop_id]
            writer.writerow(
                (
                    payout.pk,
                    payout.created_at.isoformat(),
                    payout.shop_id,
                    payout.shop.slug,
                    payout.shop.name,
                    payout.amount,
                    payout.currency,
                    payout.reference,
                    payout.created_by.email if payout.created_by else "",
                    balance.available,
                    balance.pending,
                )
            )
            count += 1
        return count
