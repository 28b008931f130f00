"""Thumbnails made by a real Celery worker consuming the `media` queue on RabbitMQ."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.media.models import MediaAsset
from apps.media.tasks import process_asset_task
from tests.brokers import wait_for
from tests.conftest import auth_client
from tests.media.files import stored_files
from tests.media.images import decode, image_bytes
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_thumbnails_are_produced_by_a_real_worker_run(celery_worker_real, settings):
    client = auth_client(UserFactory())

    response = client.post(
        "/api/v1/media",
        {"file": SimpleUploadedFile("big.webp", image_bytes("WEBP", (1600, 1200)))},
        format="multipart",
    )

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "processing"
    asset_id = response.json()["id"]
    asset = wait_for(
        lambda: MediaAsset.objects.filter(pk=asset_id).exclude(status="processing").first(),
        timeout=30,
    )
    assert asset.status == "ready", asset.failure_reason
    small = decode((settings.MEDIA_ROOT / asset.thumbnails["small"]).read_bytes())
    medium = decode((settings.MEDIA_ROOT / asset.thumbnails["medium"]).read_bytes())
    assert (small.format, small.size) == ("WEBP", (150, 113))
    assert (medium.format, medium.size) == ("WEBP", (600, 450))
    body = client.get(f"/api/v1/media/{asset_id}").json()
    assert body["thumbnails"]["small"] == f"/media/{asset.thumbnails['small']}"

    # Delivered again (a redelivery after a crash, a DLQ replay): nothing changes.
    files, updated_at = stored_files(settings.MEDIA_ROOT), asset.updated_at
    result = process_asset_task.apply_async(args=[asset_id])
    assert result.get(timeout=30) == "ready"
    asset.refresh_from_db()
    assert asset.updated_at == updated_at
    assert stored_files(settings.MEDIA_ROOT) == files
