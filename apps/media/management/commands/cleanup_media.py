from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.media.services import media_cleanup_orphans, orphaned_assets


class Command(BaseCommand):
    help = "Delete media assets nothing references (no product image or shop logo) after N hours."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours",
            type=int,
            default=None,
            help="Minimum age in hours (default MEDIA_ORPHAN_HOURS, 24).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be deleted."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["hours"] if options["hours"] is not None else settings.MEDIA_ORPHAN_HOURS
        if hours < 0:
            raise CommandError("--hours must be 0 or more.")
        older_than = timedelta(hours=hours)
        if options["dry_run"]:
            count = orphaned_assets(older_than=older_than).count()
            self.stdout.write(f"{count} orphaned media assets older than {hours} h (dry run).")
            return
        deleted = media_cleanup_orphans(older_than=older_than)
        self.stdout.write(f"Deleted {deleted} orphaned media assets older than {hours} h.")
