"""Media writes. Each service owns its transaction; stored bytes never outlive a failed write and
are deleted only after the row's deletion has committed.

An upload is accepted by the web request after a probe (size, magic bytes, the header's
dimensions: `image_probe`) and stored as it came under its incoming key, outside `media/`; the
asset is `processing`. The media worker (`media_process`) decodes and cleans it, writes the
cleaned image under the asset's key and its thumbnails, deletes the incoming object and marks
the asset `ready`, or `failed` with the reason. Decoding, which costs seconds of CPU and hundreds
of MB for a large image, never runs in a web request."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import timedelta
from functools import partial
from pathlib import PurePosixPath
from typing import Any, cast
from uuid import UUID, uuid4

from django.conf import settings
from django.core.cache import cache
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
from apps.events.task_outbox import task_enqueue
from apps.media.errors import (
    InvalidAssetState,
    InvalidImage,
    MediaInUse,
    MediaTooLarge,
    PixelBudgetExceeded,
    TooManyPixels,
    UnsupportedFormat,
    UploadMissing,
)
from apps.media.image_processing import (
    ACCEPTED_CONTENT_TYPES,
    THUMBNAIL_SIZES,
    CleanImage,
    ProbedImage,
    image_clean,
    image_probe,
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


def _incoming_key(storage_key: str) -> str:
    """Where an upload waits, as it came, for the worker: outside `media/`, under a name nobody
    is ever given."""
    return f"incoming/{storage_key}"


def _stored_keys(asset: MediaAsset) -> list[str]:
    keys = [asset.storage_key]
    if asset.status == MediaAsset.Status.PROCESSING:
        keys.append(_incoming_key(asset.storage_key))
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


def _enqueue_processing(asset_id: UUID) -> None:
    """Queue the worker in the caller's transaction: sent after commit, kept if the broker is
    down and sent once it is back (a `processing` asset is never left without its task)."""
    from apps.media.tasks import process_asset_task

    task_enqueue(process_asset_task, asset_id=str(asset_id))


def _pixel_budget_spend(owner: Any, pixels: int) -> None:
    """Count `pixels` against the owner's hourly budget (MEDIA_PIXEL_BUDGET_PER_HOUR, 0: none)
    or refuse: decoding costs the worker CPU and memory in proportion to the pixels, and the
    upload throttle counts files, not their size. A refused upload spends nothing.

    A counter per owner and clock hour in the shared cache, like the request throttles, and like
    them it fails open: with the cache unreachable (the cache ignores the error and answers None)
    nothing is counted."""
    budget = settings.MEDIA_PIXEL_BUDGET_PER_HOUR
    if not budget:
        return
    now = int(time.time())
    key = f"media:pixels:{owner.pk}:{now // 3600}"
    cache.add(key, 0, timeout=3600 + 60)
    used = cache.incr(key, pixels)
    if used is None:
        return
    if used > budget:
        cache.decr(key, pixels)
        retry_after = 3600 - now % 3600
        raise PixelBudgetExceeded(
            f"Images of {pixels} pixels would bring this hour's uploads to {used} pixels; at "
            f"most {budget} per hour. Retry in {retry_after} seconds.",
            limit=budget,
            used=used - pixels,
            requested=pixels,
            retry_after=retry_after,
        )


def _accept_upload(
    *, owner: Any, data: bytes, original_name: str, source_url: str = ""
) -> MediaAsset:
    """Probe, spend the pixel budget, store the bytes as they came under the incoming key and
    create the `processing` row; the worker is enqueued after commit."""
    probe: ProbedImage = image_probe(data, **_limits())
    _pixel_budget_spend(owner, probe.pixels)
    storage = current_storage()
    asset_id = uuid4()
    key = _new_key(asset_id, probe.extension)
    incoming = _incoming_key(key)
    storage.save(incoming, data, probe.content_type)
    try:
        # Inside a request with an Idempotency-Key this is a savepoint of the request's
        # transaction, which only a 5xx after this point rolls back (the stored object would
        # then be left without its row).
        with transaction.atomic():
            asset = MediaAsset.objects.create(
                id=asset_id,
                owner=owner,
                backend=storage.name,
                storage_key=key,
                original_name=original_name[:255],
                source_url=source_url,
                content_type=probe.content_type,
                size=len(data),
                width=probe.width,
                height=probe.height,
                status=MediaAsset.Status.PROCESSING,
            )
            _enqueue_processing(asset.id)
    except BaseException:
        _delete_stored(storage.name, [incoming])
        raise
    return asset


def media_upload(*, owner: Any, data: bytes, original_name: str = "") -> MediaAsset:
    """Accept an uploaded image for the worker to verify and clean (the asset is `processing`).

    Raises MediaTooLarge, TooManyPixels, UnsupportedFormat, InvalidImage (the probe),
    PixelBudgetExceeded, StorageUnavailable.
    """
    return _accept_upload(owner=owner, data=data, original_name=original_name)


def media_upload_from_url(*, owner: Any, url: str) -> MediaAsset:
    """Fetch `url` (https, public addresses only, redirects re-checked) and accept it like an
    upload. Raises the fetch errors of remote_fetch and the errors of media_upload."""
    fetched = fetch_image_bytes(url, max_bytes=settings.MEDIA_MAX_BYTES)
    return _accept_upload(
        owner=owner, data=fetched.data, original_name=fetched.name, source_url=url[:2048]
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
    """Probe a presigned upload like a direct one and hand it to the worker, which replaces it by
    its cleaned re-encoding (the asset is `processing` until then).

    Raises MediaNotFound, InvalidAssetState (not pending), UploadMissing (nothing uploaded yet;
    the asset stays pending), PixelBudgetExceeded (the asset stays pending), and, after deleting
    the object and marking the asset failed, MediaTooLarge, TooManyPixels, UnsupportedFormat or
    InvalidImage.
    """
    asset = media_get_owned(owner=owner, asset_id=asset_id)
    if asset.status != MediaAsset.Status.PENDING:
        raise InvalidAssetState(f"The asset is {asset.status}, not pending.")
    storage = storage_for(asset.backend)
    try:
        data = storage.read(asset.storage_key, max_bytes=settings.MEDIA_MAX_BYTES)
        probe = image_probe(data, **_limits())
    except StoredObjectMissing as exc:
        raise UploadMissing("Upload the file to the presigned URL first.") from exc
    except (MediaTooLarge, TooManyPixels, UnsupportedFormat, InvalidImage) as exc:
        _delete_stored(asset.backend, [asset.storage_key])
        MediaAsset.objects.filter(pk=asset.pk, status=MediaAsset.Status.PENDING).update(
            status=MediaAsset.Status.FAILED, failure_reason=exc.detail[:255]
        )
        raise
    _pixel_budget_spend(owner, probe.pixels)
    # The key keeps the declared extension; the content type follows the probed format. The
    # worker reads the object where the browser put it (there is no incoming copy).
    with transaction.atomic():
        updated = MediaAsset.objects.filter(pk=asset.pk, status=MediaAsset.Status.PENDING).update(
            status=MediaAsset.Status.PROCESSING,
            content_type=probe.content_type,
            size=len(data),
            width=probe.width,
            height=probe.height,
            updated_at=timezone.now(),
        )
        if not updated:
            raise InvalidAssetState("The asset was completed by another request.")
        _enqueue_processing(asset.pk)
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


def _read_upload(asset: MediaAsset) -> tuple[str, bytes]:
    """(key, bytes) of what is to be cleaned: the incoming object, else the object at the
    asset's key (a presigned upload, or an asset stored before cleaning moved to the worker,
    whose bytes there are already clean). Raises StoredObjectMissing, MediaTooLarge."""
    storage = storage_for(asset.backend)
    incoming = _incoming_key(asset.storage_key)
    try:
        return incoming, storage.read(incoming, max_bytes=settings.MEDIA_MAX_BYTES)
    except StoredObjectMissing:
        return asset.storage_key, storage.read(
            asset.storage_key, max_bytes=max(settings.MEDIA_MAX_BYTES, asset.size)
        )


def media_process(*, asset_id: UUID) -> MediaAsset | None:
    """The worker's part of an upload: decode and verify it fully (`image_clean`: the limits,
    every frame), store the cleaned re-encoding under the asset's key, make the thumbnails
    (Cloudinary: transformation URLs), delete the incoming object and mark the asset ready with
    the cleaned image's type, size, dimensions and hash. An image that fails is deleted and the
    asset marked failed with the reason.

    Idempotent: a ready, failed, pending or deleted asset is left alone, and a re-run overwrites
    the same keys. Raises StorageUnavailable for transient storage errors (retried)."""
    asset = MediaAsset.objects.filter(pk=asset_id).first()
    if asset is None or asset.status != MediaAsset.Status.PROCESSING:
        return asset
    storage = storage_for(asset.backend)
    try:
        source, data = _read_upload(asset)
    except StoredObjectMissing:
        return _finish(asset, status=MediaAsset.Status.FAILED, reason="The original is missing.")
    except MediaTooLarge as exc:
        return _finish(asset, status=MediaAsset.Status.FAILED, reason=exc.detail)
    try:
        clean = image_clean(data, **_limits())
    except (MediaTooLarge, TooManyPixels, UnsupportedFormat, InvalidImage) as exc:
        # The bytes were never verified: they do not stay in storage.
        _delete_stored(asset.backend, [source])
        return _finish(asset, status=MediaAsset.Status.FAILED, reason=exc.detail)
    storage.save(asset.storage_key, clean.data, clean.content_type)
    if storage.remote_thumbnails:
        thumbnails = storage.remote_thumbnail_urls(asset.storage_key, THUMBNAIL_SIZES)
    else:
        try:
            images = make_thumbnails(clean.data, THUMBNAIL_SIZES)
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
    finished = _finish(asset, status=MediaAsset.Status.READY, thumbnails=thumbnails, clean=clean)
    if source != asset.storage_key:
        _delete_stored(asset.backend, [source])
    if finished is None:  # deleted while we worked: remove what we just wrote
        written = [asset.storage_key]
        if not storage.remote_thumbnails:
            written += thumbnails.values()
        _delete_stored(asset.backend, written)
    return finished


def _finish(
    asset: MediaAsset,
    *,
    status: str,
    thumbnails: dict[str, str] | None = None,
    reason: str = "",
    clean: CleanImage | None = None,
) -> MediaAsset | None:
    cleaned: dict[str, Any] = {}
    if clean is not None:
        cleaned = {
            "content_type": clean.content_type,
            "size": len(clean.data),
            "width": clean.width,
            "height": clean.height,
            "sha256": clean.sha256,
        }
    with transaction.atomic():
        updated = MediaAsset.objects.filter(
            pk=asset.pk, status=MediaAsset.Status.PROCESSING
        ).update(
            status=status,
            thumbnails=thumbnails or {},
            failure_reason=reason[:255],
            updated_at=timezone.now(),
            **cleaned,
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
