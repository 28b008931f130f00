"""Media domain errors: stable codes, no HTTP (the problem+json handler maps `status`)."""

from apps.core.errors import Conflict, DomainError, InvalidInput, NotFound


class MediaNotFound(NotFound):
    code = "media.not_found"
    title = "Media asset not found"


class MediaTooLarge(DomainError):
    code = "media.too_large"
    title = "File too large"
    status = 413


class TooManyPixels(InvalidInput):
    code = "media.too_many_pixels"
    title = "Image has too many pixels"


class InvalidImage(InvalidInput):
    code = "media.invalid_image"
    title = "Not a valid image"


class UnsupportedFormat(InvalidInput):
    code = "media.unsupported_format"
    title = "Unsupported image format"


class HttpsRequired(InvalidInput):
    code = "media.https_required"
    title = "Only https URLs can be fetched"


class InvalidUrl(InvalidInput):
    code = "media.invalid_url"
    title = "Invalid URL"


class ForbiddenAddress(InvalidInput):
    code = "media.forbidden_address"
    title = "URL points at a non-public address"


class TooManyRedirects(InvalidInput):
    code = "media.too_many_redirects"
    title = "Too many redirects"


class FetchFailed(InvalidInput):
    code = "media.fetch_failed"
    title = "Could not fetch the URL"


class PresignUnsupported(Conflict):
    code = "media.presign_unsupported"
    title = "Direct uploads need the S3 backend"


class UploadMissing(InvalidInput):
    code = "media.upload_missing"
    title = "Nothing was uploaded for this asset"


class InvalidAssetState(Conflict):
    code = "media.invalid_state"
    title = "Asset is not in a state that allows this"


class MediaInUse(Conflict):
    code = "media.in_use"
    title = "Asset is in use"


class PixelBudgetExceeded(DomainError):
    """Extra fields: limit, used (pixels this hour), requested, retry_after (seconds)."""

    code = "media.pixel_budget_exceeded"
    title = "Hourly image budget used up"
    status = 429


class StorageUnavailable(DomainError):
    """A transient storage failure (network, 5xx): requests answer 503, tasks retry."""

    code = "media.storage_unavailable"
    title = "Storage is unavailable"
    status = 503
