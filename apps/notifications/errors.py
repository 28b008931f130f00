from apps.core.errors import NotFound, ServiceUnavailable


class NotificationNotFound(NotFound):
    code = "notification.not_found"
    title = "Notification not found"


class StreamUnavailable(ServiceUnavailable):
    code = "notification.stream_unavailable"
    title = "Stream unavailable"
