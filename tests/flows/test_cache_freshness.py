"""Cached product pages follow changes made by apps the catalog sits above: thumbnails that
finish after a page was cached (media) and a shop rename (users), through their events."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.events.models import PendingTask
from apps.media.models import MediaAsset
from apps.media.tasks import process_asset_task
from apps.shops.services import shop_update
from tests.catalog.factories import make_product
from tests.conftest import auth_client
from tests.flows.conftest import png_bytes
from tests.shops.factories import ShopFactory

pytestmark = pytest.mark.django_db


def test_thumbnails_made_after_a_page_was_cached_show_on_the_next_read(
    django_capture_on_commit_callbacks,
):
    shop = ShopFactory()
    seller = auth_client(shop.owner)
    with django_capture_on_commit_callbacks(execute=False):
        upload = seller.post(
            "/api/v1/media",
            {"file": SimpleUploadedFile("lamp.png", png_bytes(), content_type="image/png")},
            format="multipart",
        )
    assert upload.status_code == 201
    asset_id = upload.json()["id"]
    # The broker took the thumbnail task and a busy worker has not run it yet.
    queued = PendingTask.objects.get(name=process_asset_task.name)
    queued.delete()
    assert MediaAsset.objects.get(pk=asset_id).status == MediaAsset.Status.PROCESSING
    with django_capture_on_commit_callbacks(execute=True):
        product = make_product(shop, name="Lamp", stock=3)
        response = seller.patch(
            f"/api/v1/products/{product.pk}", {"image_ids": [asset_id]}, format="json"
        )
    assert response.status_code == 200
    public = APIClient()
    before = public.get(f"/api/v1/products/{product.pk}").json()["images"][0]["thumbnails"]
    assert before == {"small": None, "medium": None}
    listed = public.get("/api/v1/products").json()["results"][0]["image"]["thumbnails"]
    assert listed == {"small": None, "medium": None}

    # The worker gets to it: thumbnails are made, media.processed is relayed after commit.
    with django_capture_on_commit_callbacks(execute=True):
        process_asset_task(**queued.kwargs)

    after = public.get(f"/api/v1/products/{product.pk}").json()["images"][0]["thumbnails"]
    assert set(after) == {"small", "medium"}
    assert all(url and url.endswith(".webp") for url in after.values())
    listed = public.get("/api/v1/products").json()["results"][0]["image"]["thumbnails"]
    assert listed == after


def test_shop_rename_shows_on_cached_product_pages(django_capture_on_commit_callbacks):
    shop = ShopFactory(name="Old Name")
    with django_capture_on_commit_callbacks(execute=True):
        product = make_product(shop, name="Chair", stock=2)
    public = APIClient()
    assert public.get(f"/api/v1/products/{product.pk}").json()["shop"]["name"] == "Old Name"
    assert public.get("/api/v1/products").json()["results"][0]["shop"]["name"] == "Old Name"

    with django_capture_on_commit_callbacks(execute=True):
        shop_update(shop=shop, actor=shop.owner, data={"name": "New Name"})

    assert public.get(f"/api/v1/products/{product.pk}").json()["shop"]["name"] == "New Name"
    assert public.get("/api/v1/products").json()["results"][0]["shop"]["name"] == "New Name"
