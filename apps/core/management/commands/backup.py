from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.backups import backup_create
from apps.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump custom format, in one snapshot with every table's row "
        "count) and a manifest of the media objects, with SHA-256 checksums, into a new "
        "directory under DIRECTORY (docs/backups.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--database", default="default", help="database alias")
        parser.add_argument(
            "--no-media-checksums",
            action="store_true",
            help="list media objects with their sizes only (no read of each object)",
        )

    def handle(self, *args, directory: Path, database: str, no_media_checksums: bool, **options):
        try:
            target = backup_create(
                directory=directory,
                alias=database,
                media_checksums=not no_media_checksums,
                progress=self.stdout.write,
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(self.style.SUCCESS(str(target)))
