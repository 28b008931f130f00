from django.core.management.base import BaseCommand, CommandError

from apps.events.services import events_prune


class Command(BaseCommand):
    help = "Delete outbox events published more than --days days ago (pending ones are kept)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True)

    def handle(self, *args, days: int, **options):
        if days < 0:
            raise CommandError("--days must be >= 0")
        deleted = events_prune(older_than_days=days)
        self.stdout.write(f"deleted {deleted} published event(s) older than {days} day(s)")
