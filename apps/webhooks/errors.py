from apps.core.errors import Conflict, InvalidInput, NotFound, RuleViolation


class WebhookNotFound(NotFound):
    code = "webhook.not_found"
    title = "Webhook endpoint not found"


class DeliveryNotFound(NotFound):
    code = "webhook.delivery_not_found"
    title = "Webhook delivery not found"


class InvalidTarget(InvalidInput):
    """The URL cannot be a webhook target: malformed, not https, or not a public address."""

    code = "webhook.invalid_url"
    title = "Not a valid webhook URL"


class EventNotAvailable(InvalidInput):
    code = "webhook.event_not_available"
    title = "Event type not available to this endpoint"


class TooManyEndpoints(RuleViolation):
    code = "webhook.too_many_endpoints"
    title = "Too many webhook endpoints"


class EndpointDisabled(Conflict):
    code = "webhook.endpoint_disabled"
    title = "The webhook endpoint is disabled"


class DeliveryInProgress(Conflict):
    code = "webhook.delivery_in_progress"
    title = "The delivery is being sent"
