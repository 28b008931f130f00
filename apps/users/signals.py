"""What other apps may learn of accounts without the users app calling them (dependencies point
one way: apps.notifications listens, for instance, to close the real-time streams)."""

from django.dispatch import Signal

#: Sent after commit when sessions of a user ended: logout (`session_id` is the ended session),
#: logout-all, a password change or reset, refresh-token reuse (`session_id` None: every session
#: but possibly one the revocation spared). Keyword arguments: `user_id`, `session_id`.
sessions_ended = Signal()


def sessions_ended_send(*, user_id: object, session_id: str | None = None) -> None:
    from django.db import transaction

    from apps.users.models import User

    transaction.on_commit(
        lambda: sessions_ended.send_robust(User, user_id=user_id, session_id=session_id)
    )
