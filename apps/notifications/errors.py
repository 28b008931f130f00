from apps.core.errors import InvalidInput, NotFound


class NotificationNotFound(NotFound):
    code = "notification.not_found"
    title = "Notification not found"


class InvalidStreamTicket(InvalidInput):
    code = "notification.invalid_ticket"
    title = "Invalid or expired stream ticket"
