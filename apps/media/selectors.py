"""Media reads, always scoped to what the caller may see."""

from typing import Any
from uuid import UUID

from apps.media.errors import MediaNotFound
from apps.media.models import MediaAsset


def media_get_owned(*, owner: Any, asset_id: UUID) -> MediaAsset:
    """The owner's asset; someone else's is indistinguishable from a missing one."""
    asset = MediaAsset.objects.filter(pk=asset_id, owner=owner).first()
    if asset is None:
        raise MediaNotFound()
    return asset
