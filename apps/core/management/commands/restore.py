from pathlib import Path

import environ
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.backups import backup_restore, media_missing
from apps.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into an EMPTY database (a non-empty one is "
        "refused), after checking its checksums; then check every table's row count against "
        "the manifest and report media objects the storage lacks (docs/backups.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", type=Path, help="a backup-<time> directory")
        parser.add_argument(
            "--target-url",
            help="postgres:// URL of the empty database (default: the `default` database)",
        )
        parser.add_argument("--jobs", type=int, default=2, help="pg_restore parallel jobs")

    def handle(self, *args, backup: Path, target_url: str | None, jobs: int, **options):
        database = (
            environ.Env.db_url_config(target_url) if target_url else settings.DATABASES["default"]
        )
        try:
            manifest = backup_restore(
                backup=backup, database=database, jobs=jobs, progress=self.stdout.write
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        missing = media_missing(manifest)
        if missing:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(missing)} media objects of the manifest are missing or differ in the "
                    f"storage, e.g. {missing[:5]}"
                )
            )
        self.stdout.write(self.style.SUCCESS(f"restored the backup of {manifest['taken_at']}"))
