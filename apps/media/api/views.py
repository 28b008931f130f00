from uuid import UUID

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from apps.core.openapi import problem_responses
from apps.core.permissions import EmailVerified, IsAuthenticatedUser
from apps.media import services
from apps.media.api.serializers import (
    MediaAssetOutput,
    MediaFromUrlInput,
    MediaPresignInput,
    MediaPresignOutput,
    MediaUploadInput,
)
from apps.media.errors import MediaTooLarge
from apps.media.selectors import media_get_owned

_MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and small fields around the file
_IMAGE_CODES = [
    "media.invalid_image",
    "media.unsupported_format",
    "media.too_many_pixels",
]
_BUDGET_CODES = ["media.pixel_budget_exceeded", "throttled"]
_FETCH_CODES = [
    "media.https_required",
    "media.invalid_url",
    "media.forbidden_address",
    "media.too_many_redirects",
    "media.fetch_failed",
]


# The actions that bring in a new image: a verified email and the `media_upload` throttle.
_UPLOADS = frozenset({"create", "from_url", "presign"})


class MediaAssetViewSet(viewsets.GenericViewSet):
    """The caller's images: upload (a file, a URL or a presigned direct upload), read, delete."""

    serializer_class = MediaUploadInput  # what OPTIONS describes (the actions name theirs)
    # A file needs multipart; nothing else is advertised. The JSON actions name their own.
    parser_classes = (MultiPartParser,)
    throttle_scope = "media_upload"
    lookup_field = "asset_id"
    lookup_value_converter = "uuid"

    def get_permissions(self) -> list[BasePermission]:
        if self.action in _UPLOADS:
            return [IsAuthenticatedUser(), EmailVerified()]
        return [IsAuthenticatedUser()]

    def get_throttles(self) -> list:
        if self.action in _UPLOADS:
            return [*super().get_throttles(), ScopedRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        operation_id="media_upload",
        summary="Upload an image",
        request={"multipart/form-data": MediaUploadInput},
        responses={
            201: MediaAssetOutput,
            **problem_responses(
                400,
                413,
                503,
                codes={400: _IMAGE_CODES, 413: ["media.too_large"], 429: _BUDGET_CODES},
            ),
        },
        description="Upload an image. The request checks its size (MEDIA_MAX_BYTES), magic bytes "
        "and the dimensions its header declares (MEDIA_MAX_PIXELS, 25 MP) without decoding it, "
        "and the caller's hourly pixel budget (MEDIA_PIXEL_BUDGET_PER_HOUR: 429 "
        "`media.pixel_budget_exceeded`). The asset is `processing` (no `url` yet) until the "
        "media worker has decoded it (format by content, never by name), turned it upright, "
        "stripped its metadata and made its thumbnails: then `ready`, or `failed` with "
        "`failure_reason`.",
    )
    def create(self, request: Request) -> Response:
        # Refuse a body far over the limit before parsing it (Django would spool it all to disk);
        # the exact limit is checked on the file itself.
        declared = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.MEDIA_MAX_BYTES
        if declared.isdigit() and int(declared) > limit + _MULTIPART_OVERHEAD:
            raise MediaTooLarge(f"The request is {declared} bytes; files may be {limit} at most.")
        body = MediaUploadInput(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        # One byte past the limit is enough to refuse; never read a huge file into memory.
        data = upload.read(settings.MEDIA_MAX_BYTES + 1)
        asset = services.media_upload(owner=request.user, data=data, original_name=upload.name)
        return Response(MediaAssetOutput(asset).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="media_from_url",
        summary="Import an image from a URL",
        request=MediaFromUrlInput,
        responses={
            201: MediaAssetOutput,
            **problem_responses(
                400,
                413,
                503,
                codes={
                    400: _FETCH_CODES + _IMAGE_CODES,
                    413: ["media.too_large"],
                    429: _BUDGET_CODES,
                },
            ),
        },
        description="Fetch an image from an https URL on a public host (every resolved address "
        "checked, redirects re-checked, size capped, the whole fetch within twice "
        "MEDIA_FETCH_TIMEOUT) and accept it like an upload. Every refusal of the address check "
        "is the same 400 `media.forbidden_address`, whatever the host resolves to (or not).",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="from-url",
        parser_classes=api_settings.DEFAULT_PARSER_CLASSES,
        serializer_class=MediaFromUrlInput,
    )
    def from_url(self, request: Request) -> Response:
        body = MediaFromUrlInput(data=request.data)
        body.is_valid(raise_exception=True)
        asset = services.media_upload_from_url(owner=request.user, url=body.validated_data["url"])
        return Response(MediaAssetOutput(asset).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="media_presign",
        summary="Start a direct (presigned) upload",
        request=MediaPresignInput,
        responses={
            201: MediaPresignOutput,
            **problem_responses(400, 503, codes={409: ["media.presign_unsupported"]}),
        },
        description="S3 backend only: a pending asset and a presigned POST form for uploading "
        "straight from the browser (content type and size range enforced by S3). Then call "
        "`POST /media/{id}/complete`.",
    )
    @action(
        detail=False,
        methods=["post"],
        parser_classes=api_settings.DEFAULT_PARSER_CLASSES,
        serializer_class=MediaPresignInput,
    )
    def presign(self, request: Request) -> Response:
        body = MediaPresignInput(data=request.data)
        body.is_valid(raise_exception=True)
        asset, upload = services.media_presign(owner=request.user, **body.validated_data)
        payload = {
            "id": asset.id,
            "status": asset.status,
            "upload": {"url": upload["url"], "fields": upload["fields"]},
            "max_bytes": settings.MEDIA_MAX_BYTES,
            "expires_in": settings.MEDIA_PRESIGN_EXPIRE,
        }
        return Response(MediaPresignOutput(payload).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="media_complete",
        summary="Finish a presigned upload",
        request=None,
        responses={
            200: MediaAssetOutput,
            **problem_responses(
                404,
                413,
                503,
                codes={
                    400: [*_IMAGE_CODES, "media.upload_missing"],
                    409: ["media.invalid_state"],
                    413: ["media.too_large"],
                    429: ["media.pixel_budget_exceeded"],
                },
            ),
        },
        description="Check a presigned upload like a direct one (size, magic bytes, header) and "
        "hand it to the media worker (`processing`). An object refused here is deleted, the "
        "asset marked `failed`, and the answer is 400/413.",
    )
    @action(detail=True, methods=["post"], parser_classes=api_settings.DEFAULT_PARSER_CLASSES)
    def complete(self, request: Request, asset_id: UUID) -> Response:
        asset = services.media_complete(owner=request.user, asset_id=asset_id)
        return Response(MediaAssetOutput(asset).data)

    @extend_schema(
        operation_id="media_retrieve",
        summary="Get an uploaded image",
        description=(
            "One of the caller's assets with its URL, size, status (`processing`, `ready`, "
            "`failed`) and thumbnails."
        ),
        responses={200: MediaAssetOutput, **problem_responses(404)},
    )
    def retrieve(self, request: Request, asset_id: UUID) -> Response:
        asset = media_get_owned(owner=request.user, asset_id=asset_id)
        return Response(MediaAssetOutput(asset).data)

    @extend_schema(
        operation_id="media_delete",
        summary="Delete an uploaded image",
        responses={204: None, **problem_responses(404, codes={409: ["media.in_use"]})},
        description="Delete the asset and (after commit) its files. 409 `media.in_use` while a "
        "product image uses it.",
    )
    def destroy(self, request: Request, asset_id: UUID) -> Response:
        services.media_delete(owner=request.user, asset_id=asset_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
