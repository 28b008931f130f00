"""`manage.py cleanup_media`: assets nothing references, older than N hours, go (files too)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.catalog.models import Product, ProductImage
from apps.media.models import MediaAsset
from apps.media.services import orphaned_assets
from apps.media.tasks import cleanup_orphans_task
from config.celery import app
from tests.media.factories import MediaAssetFactory
from tests.media.files import stored_files
from tests.media.images import image_bytes
from tests.shops.factories import ShopFactory

pytestmark = pytest.mark.django_db


def age(asset: MediaAsset, hours: float) -> MediaAsset:
    MediaAsset.objects.filter(pk=asset.pk).update(
        created_at=timezone.now() - timedelta(hours=hours)
    )
    return asset


def uploaded(client) -> MediaAsset:
    response = client.post(
        "/api/v1/media",
        {"file": SimpleUploadedFile("a.png", image_bytes("PNG", (200, 200)))},
        format="multipart",
    )
    return MediaAsset.objects.get(pk=response.json()["id"])


@pytest.fixture
def assets(user, user_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        orphan = age(uploaded(user_client), 25)
    shop = ShopFactory(owner=user)
    product = Product.objects.create(shop=shop, type="physical", name="Mug", slug="mug", price=5)
    in_product = age(MediaAssetFactory(owner=user), 48)
    ProductImage.objects.create(product=product, asset=in_product)
    logo = age(MediaAssetFactory(owner=user), 48)
    shop.logo = logo
    shop.save(update_fields=["logo"])
    recent = age(MediaAssetFactory(owner=user), 2)
    pending = age(MediaAssetFactory(owner=user, status="pending"), 30)
    return {
        "orphan": orphan,
        "in_product": in_product,
        "logo": logo,
        "recent": recent,
        "pending": pending,
    }


def test_orphans_are_found_through_every_relation_in_one_query(assets, django_assert_num_queries):
    with django_assert_num_queries(1):
        found = set(orphaned_assets(older_than=timedelta(hours=24)))

    assert found == {assets["orphan"], assets["pending"]}


def test_cleanup_command_deletes_orphans_and_their_files(
    assets, settings, django_capture_on_commit_callbacks
):
    assert len(stored_files(settings.MEDIA_ROOT)) == 3  # the orphan and its thumbnails
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("cleanup_media", "--hours", "24", stdout=out)

    assert out.getvalue().strip() == "Deleted 2 orphaned media assets older than 24 h."
    remaining = set(MediaAsset.objects.values_list("pk", flat=True))
    assert remaining == {assets[name].pk for name in ("in_product", "logo", "recent")}
    assert stored_files(settings.MEDIA_ROOT) == []


def test_dry_run_changes_nothing(assets):
    out = StringIO()

    call_command("cleanup_media", "--hours", "1", "--dry-run", stdout=out)

    assert out.getvalue().strip() == "3 orphaned media assets older than 1 h (dry run)."
    assert MediaAsset.objects.count() == 5


def test_negative_hours_are_refused(assets):
    with pytest.raises(CommandError):
        call_command("cleanup_media", "--hours", "-1")
    assert MediaAsset.objects.count() == 5


def test_the_periodic_task_is_scheduled_and_runs_the_same_cleanup(assets, settings):
    entry = settings.CELERY_BEAT_SCHEDULE["media-cleanup-orphans"]
    assert entry["task"] == "media.cleanup_orphans"
    assert entry["options"]["queue"] == "media"
    assert "media.cleanup_orphans" in app.tasks

    assert cleanup_orphans_task.delay(24).get() == 2
    assert MediaAsset.objects.count() == 3
