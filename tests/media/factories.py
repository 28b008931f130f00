import uuid

import factory

from apps.media.models import MediaAsset
from tests.users.factories import UserFactory


class MediaAssetFactory(factory.django.DjangoModelFactory):
    """A row only (no stored bytes): for ownership, admin and cleanup tests."""

    class Meta:
        model = MediaAsset

    owner = factory.SubFactory(UserFactory)
    backend = MediaAsset.Backend.FILESYSTEM
    storage_key = factory.LazyFunction(lambda: f"media/test/{uuid.uuid4().hex}.png")
    original_name = "photo.png"
    content_type = "image/png"
    size = 1234
    width = 40
    height = 30
    sha256 = factory.LazyFunction(lambda: uuid.uuid4().hex * 2)
    status = MediaAsset.Status.READY
