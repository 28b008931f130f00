from typing import cast

from django.core.management.base import BaseCommand, CommandError

from apps.events.dead_letters import dead_letters_list, dead_letters_requeue, dlq_name
from config.celery import WORK_QUEUES


class Command(BaseCommand):
    help = "Dead-letter queues: `dlq list [queue]`, `dlq requeue <queue> --all | --id TASK_ID`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="show dead letters (task, args, error, time)")
        listing.add_argument("queue", nargs="?", help="default: every work queue")
        requeue = sub.add_parser("requeue", help="send dead letters back to their queue")
        requeue.add_argument("queue")
        which = requeue.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true")
        which.add_argument("--id", action="append", dest="ids", metavar="TASK_ID")
        requeue.add_argument(
            "--reset-retries", action="store_true", help="give the task its full retry budget"
        )

    def handle(self, *args, action: str, queue: str | None = None, **options):
        try:
            if action == "list":
                self._list([queue] if queue else list(WORK_QUEUES))
            else:
                # `requeue` declares `queue` as a required positional: argparse always sets it.
                self._requeue(cast(str, queue), options)
        except OSError as exc:
            raise CommandError(f"broker unreachable: {exc}") from exc

    def _list(self, queues: list[str]) -> None:
        for queue in queues:
            letters = dead_letters_list(queue)
            self.stdout.write(f"{dlq_name(queue)}: {len(letters)} message(s)")
            for letter in letters:
                died = letter.died_at.isoformat() if letter.died_at else "-"
                self.stdout.write(
                    f"  {letter.task_id}  {letter.task}  args={letter.args} "
                    f"kwargs={letter.kwargs}  retries={letter.retries}  reason={letter.reason}  "
                    f"died_at={died}  error={letter.error or '-'}"
                )

    def _requeue(self, queue: str, options: dict) -> None:
        ids = None if options["all"] else set(options["ids"])
        replayed = dead_letters_requeue(queue, task_ids=ids, reset_retries=options["reset_retries"])
        for letter in replayed:
            self.stdout.write(f"requeued {letter.task_id} {letter.task} -> {letter.queue}")
        missing = (ids or set()) - {letter.task_id for letter in replayed}
        self.stdout.write(f"{len(replayed)} message(s) requeued")
        if missing:
            raise CommandError(f"not found in {dlq_name(queue)}: {', '.join(sorted(missing))}")
