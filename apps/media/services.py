"""Media writes. Each service owns its transaction; stored bytes never outlive a failed write and
are deleted only after the row's deletion has committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from functools import partial
from pathlib import PurePosixPath
from typing import Any, cast
from uuid import UUID, uuid4

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Exists,
    Field,
    ForeignObjectRel,
    ManyToManyRel,
    Model,
    OuterRef,
    ProtectedError,
    QuerySet,
    RestrictedError,
)
from django.utils import timezone

from apps.events import emit
from apps.media.errors import (
    InvalidAssetState,
    InvalidImage,
    MediaInUse,
    MediaTooLarge,
    StorageUnavailable,
    TooManyPixels,
    UnsupportedFormat,
    UploadMissing,
)
from apps.media.image_processing import (
    ACCEPTED_CONTENT_TYPES,
    THUMBNAIL_SIZES,
    CleanImage,
    image_clean,
    make_thumbnails,
)
from apps.media.models import MediaAsset
from apps.media.remote_fetch import fetch_image_bytes
from apps.media.selectors import media_get_owned
from apps.media.storage import StoredObjectMissing, current_storage, storage_for

logger = logging.getLogger(__name__)


def _limits() -> dict[str, int]:
    return {"max_bytes": settings.MEDIA_MAX_BYTES, "max_pixels": settings.MEDIA_MAX_PIXELS}


def _new_key(asset_id: UUID, extension: str) -> str:
    # Generated, never derived from the user's file name; the month prefix spreads directories.
    return f"media/{timezone.now():%Y/%m}/{asset_id.hex}.{extension}"


def _thumbnail_key(storage_key: str, name: str) -> str:
    return str(PurePosixPath(storage_key).with_suffix("")) + f"_{name}.webp"


def _stored_keys(asset: MediaAsset) -> list[str]:
    keys = [asset.storage_key]
    if not storage_for(asset.backend).remote_thumbnails:
        keys += [key for key in (asset.thumbnails or {}).values() if key]
    return keys


def _delete_stored(backend: str, keys: Iterable[str]) -> None:
    """Best effort: a storage failure here leaves a stray object (logged), never a 500."""
    storage = storage_for(backend)
    for key in keys:
        try:
            storage.delete(key)
        except Exception:
            logger.exception("media: could not delete %s from %s", key, backend)


def _enqueue_thumbnails(asset_id: UUID) -> None:
    from apps.media.tasks import make_thumbnails_task

    make_thumbnails_task.delay(str(asset_id))


def _store_new_asset(
    *, owner: Any, clean: CleanImage, original_name: str, source_url: str = ""
) -> MediaAsset:
    storage = current_storage()
    asset_id = uuid4()
    key = _new_key(asset_id, clean.extension)
    status, thumbnails = MediaAsset.Status.PROCESSING, {}
    storage.save(key, clean.data, clean.content_type)
    try:
        if storage.remote_thumbnails:
            status = MediaAsset.Status.READY
            thumbnails = storage.remote_thumbnail_urls(key, THUMBNAIL_SIZES)
        # durable: this is the outermost transaction, so once it commits nothing rolls the row
        # back while the object stays in storage.
        with transaction.atomic(durable=True):
            asset = MediaAsset.objects.create(
                id=asset_id,
                owner=owner,
                backend=storage.name,
                storage_key=key,
                original_name=original_name[:255],
                source_url=source_url,
                content_type=clean.content_type,
                size=len(clean.data),
                width=clean.width,
                height=clean.height,
                sha256=clean.sha256,
                status=status,
                thumbnails=thumbnails,
            )
            if status == MediaAsset.Status.PROCESSING:
                transaction.on_commit(partial(_enqueue_thumbnails, asset.id))
    except BaseException:
        _delete_stored(storage.name, [key])
        raise
    return asset


def media_upload(*, owner: Any, data: bytes, original_name: str = "") -> MediaAsset:
    """Store an uploaded image after decoding and cleaning it; thumbnails follow after commit.

    Raises MediaTooLarge, TooManyPixels, UnsupportedFormat, InvalidImage, StorageUnavailable.
    """
    clean = image_clean(data, **_limits())
    return _store_new_asset(owner=owner, clean=clean, original_name=original_name)


def media_upload_from_url(*, owner: Any, url: str) -> MediaAsset:
    """Fetch `url` (https, public addresses only, redirects re-checked) and store it like an
    upload. Raises the fetch errors of remote_fetch and the errors of media_upload."""
    fetched = fetch_image_bytes(url, max_bytes=settings.MEDIA_MAX_BYTES)
    clean = image_clean(fetched.data, **_limits())
    return _store_new_asset(
        owner=owner, clean=clean, original_name=fetched.name, source_url=url[:2048]
    )


def media_presign(*, owner: Any, content_type: str) -> tuple[MediaAsset, dict[str, Any]]:
    """A pending asset and a presigned POST for the browser to upload it straight to S3.

    Raises PresignUnsupported on other backends, UnsupportedFormat for other content types.
    """
    if content_type not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedFormat("Only image/jpeg, image/png, image/webp and image/gif.")
    storage = current_storage()
    asset_id = uuid4()
    extension = content_type.split("/", 1)[1].replace("jpeg", "jpg")
    key = _new_key(asset_id, extension)
    upload = storage.presigned_post(
        key,
        content_type=content_type,
        max_bytes=settings.MEDIA_MAX_BYTES,
        expires=settings.MEDIA_PRESIGN_EXPIRE,
    )
    asset = MediaAsset.objects.create(
        id=asset_id,
        owner=owner,
        backend=storage.name,
        storage_key=key,
        content_type=content_type,
        status=MediaAsset.Status.PENDING,
    )
    return asset, upload


def media_complete(*, owner: Any, asset_id: UUID) -> MediaAsset:
    """Verify a presigned upload like a direct one and replace it by its cleaned re-encoding.

    Raises MediaNotFound, InvalidAssetState (not pending), UploadMissing (nothing uploaded yet;
    the asset stays pending), and, after deleting the object and marking the asset failed,
    MediaTooLarge, TooManyPixels, UnsupportedFormat or InvalidImage.
    """
    asset = media_get_owned(owner=owner, asset_id=asset_id)
    if asset.status != MediaAsset.Status.PENDING:
        raise InvalidAssetState(f"The asset is {asset.status}, not pending.")
    storage = storage_for(asset.backend)
    try:
        data = storage.read(asset.storage_key, max_bytes=settings.MEDIA_MAX_BYTES)
        clean = image_clean(data, **_limits())
    except StoredObjectMissing as exc:
        raise UploadMissing("Upload the file to the presigned URL first.") from exc
    except (MediaTooLarge, TooManyPixels, UnsupportedFormat, InvalidImage) as exc:
        _delete_stored(asset.backend, [asset.storage_key])
        MediaAsset.objects.filter(pk=asset.pk, status=MediaAsset.Status.PENDING).update(
            status=MediaAsset.Status.FAILED, failure_reason=exc.detail[:255]
        )
        raise
    # The key keeps the declared extension; the content type follows the decoded format.
    storage.save(asset.storage_key, clean.data, clean.content_type)
    with transaction.atomic(durable=True):
        updated = MediaAsset.objects.filter(pk=asset.pk, status=MediaAsset.Status.PENDING).update(
            status=MediaAsset.Status.PROCESSING,
            content_type=clean.content_type,
            size=len(clean.data),
            width=clean.width,
            height=clean.height,
            sha256=clean.sha256,
            updated_at=timezone.now(),
        )
        if not updated:
            raise InvalidAssetState("The asset was completed by another request.")
        transaction.on_commit(partial(_enqueue_thumbnails, asset.pk))
    asset.refresh_from_db()
    return asset


def media_delete(*, owner: Any, asset_id: UUID) -> None:
    """Delete the owner's asset; its stored files go after the commit.

    Raises MediaNotFound (missing or someone else's) and MediaInUse when a protecting relation
    (a product image) still points at it.
    """
    asset = media_get_owned(owner=owner, asset_id=asset_id)
    media_asset_delete(asset=asset)


def media_asset_delete(*, asset: MediaAsset) -> None:
    """Delete `asset` (any owner: admin and cleanup). Raises MediaInUse when protected."""
    keys = _stored_keys(asset)
    try:
        with transaction.atomic():
            asset.delete()
            transaction.on_commit(partial(_delete_stored, asset.backend, keys))
    except (ProtectedError, RestrictedError) as exc:
        raise MediaInUse("The asset is used by a product; remove it there first.") from exc


def media_make_thumbnails(*, asset_id: UUID) -> MediaAsset | None:
    """Make the WebP thumbnails of a processing asset and mark it ready (or failed with the
    reason). Idempotent: a ready, failed, pending or deleted asset is left alone, and a re-run
    overwrites the same keys. Raises StorageUnavailable for transient storage errors (retried)."""
    asset = MediaAsset.objects.filter(pk=asset_id).first()
    if asset is None or asset.status != MediaAsset.Status.PROCESSING:
        return asset
    storage = storage_for(asset.backend)
    if storage.remote_thumbnails:
        thumbnails = storage.remote_thumbnail_urls(asset.storage_key, THUMBNAIL_SIZES)
        return _finish(asset, status=MediaAsset.Status.READY, thumbnails=thumbnails)
    try:
        data = storage.read(asset.storage_key, max_bytes=max(settings.MEDIA_MAX_BYTES, asset.size))
        images = make_thumbnails(data, THUMBNAIL_SIZES)
    except StoredObjectMissing:
        return _finish(asset, status=MediaAsset.Status.FAILED, reason="The original is missing.")
    except StorageUnavailable:
        raise
    except Exception as exc:
        logger.warning("media: thumbnails of %s failed: %r", asset.pk, exc)
        return _finish(
            asset, status=MediaAsset.Status.FAILED, reason=f"Could not make thumbnails: {exc}"
        )
    thumbnails = {}
    for name, webp in images.items():
        key = _thumbnail_key(asset.storage_key, name)
        storage.save(key, webp, "image/webp")
        thumbnails[name] = key
    finished = _finish(asset, status=MediaAsset.Status.READY, thumbnails=thumbnails)
    if finished is None:  # deleted while we worked: remove what we just wrote
        _delete_stored(asset.backend, thumbnails.values())
    return finished


def _finish(
    asset: MediaAsset,
    *,
    status: str,
    thumbnails: dict[str, str] | None = None,
    reason: str = "",
) -> MediaAsset | None:
    with transaction.atomic():
        updated = MediaAsset.objects.filter(
            pk=asset.pk, status=MediaAsset.Status.PROCESSING
        ).update(
            status=status,
            thumbnails=thumbnails or {},
            failure_reason=reason[:255],
            updated_at=timezone.now(),
        )
        if updated:
            # Readers that cached this asset's URLs (product pages) refresh on this event.
            emit("media.processed", asset.pk, {"asset_id": str(asset.pk), "status": status})
    if not updated:
        return MediaAsset.objects.filter(pk=asset.pk).first()
    asset.refresh_from_db()
    return asset


def orphaned_assets(*, older_than: timedelta) -> QuerySet[MediaAsset]:
    """Assets older than `older_than` that no relation points at. Relations are discovered from
    the model's metadata (hidden `related_name="+"` ones included), so apps above media (catalog's
    product images, shop logos) count without media importing them."""
    queryset = MediaAsset.objects.filter(created_at__lt=timezone.now() - older_than)
    for relation in MediaAsset._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and relation.is_relation):
            continue
        # The casts: what the filter above leaves is the reverse side of a relation to
        # MediaAsset, a ForeignObjectRel (a ManyToManyRel when many_to_many, its through model
        # resolved once the apps are loaded), and a concrete field is a Field; the stubs' unions
        # cannot follow the filters.
        relation = cast(ForeignObjectRel, relation)
        if relation.many_to_many:
            through = cast(type[Model], cast(ManyToManyRel, relation).through)
            column = next(
                cast(Field, field).attname
                for field in through._meta.get_fields()
                if getattr(field, "related_model", None) is MediaAsset and field.concrete
            )
            model = through
        else:
            model, column = relation.related_model, relation.field.attname
        if model is MediaAsset:
            continue
        queryset = queryset.filter(~Exists(model._base_manager.filter(**{column: OuterRef("pk")})))
    return queryset


def media_cleanup_orphans(*, older_than: timedelta) -> int:
    """Delete orphaned assets (rows, then files after commit). Returns how many were deleted.

    Each asset is re-checked under a row lock: attaching it concurrently (a product image, a shop
    logo) takes a key-share lock on the same row, so it either waits and then fails on the gone
    row, or wins and the re-check skips the asset."""
    deleted = 0
    candidates = list(orphaned_assets(older_than=older_than).values_list("pk", flat=True))
    for asset_id in candidates:
        try:
            with transaction.atomic():
                asset = (
                    orphaned_assets(older_than=older_than)
                    .select_for_update()
                    .filter(pk=asset_id)
                    .first()
                )
                if asset is None:
                    continue
                keys = _stored_keys(asset)
                asset.delete()
                transaction.on_commit(partial(_delete_stored, asset.backend, keys))
        except (ProtectedError, RestrictedError):
            continue
        deleted += 1
    return deleted
