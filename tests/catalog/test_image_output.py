"""Product images are rendered with the media app's own URL functions (`asset_url`,
`asset_thumbnail_urls`): the same url and thumbnails as GET /media/{id}, without extra queries."""

import uuid
from decimal import Decimal

import pytest
from rest_framework import serializers

from apps.catalog.api.serializers import ImageOutput, image_as_dict
from apps.catalog.models import ProductImage
from apps.catalog.services import product_update
from tests.catalog.factories import make_product
from tests.conftest import auth_client
from tests.media.factories import MediaAssetFactory

pytestmark = pytest.mark.django_db


def _asset(owner):
    """A ready asset whose small thumbnail is made and medium one is not (yet)."""
    key = f"media/test/{uuid.uuid4().hex}.png"
    return MediaAssetFactory(
        owner=owner, storage_key=key, thumbnails={"small": key.replace(".png", "_small.webp")}
    )


def _with_images(shop, name, count):
    product = make_product(shop, name=name, stock=1)
    assets = [_asset(shop.owner) for _ in range(count)]
    return product_update(
        actor=shop.owner, product=product, data={"image_ids": [a.pk for a in assets]}
    ), assets


def test_detail_images_match_the_media_endpoint(shop, api_client, settings):
    settings.STORAGE_BACKEND = "filesystem"
    settings.MEDIA_URL = "/media/"
    product, (first, second) = _with_images(shop, "Lamp", 2)

    images = api_client.get(f"/api/v1/products/{product.pk}").json()["images"]

    media = auth_client(shop.owner).get(f"/api/v1/media/{first.pk}").json()
    assert images[0] == {
        "id": str(ProductImage.objects.get(product=product, asset=first).pk),
        "asset_id": str(first.pk),
        "url": media["url"],
        "thumbnails": media["thumbnails"],
        "width": 40,
        "height": 30,
        "position": 0,
        "alt_text": "",
    }
    assert media["thumbnails"] == {
        "small": f"/media/{first.storage_key.replace('.png', '_small.webp')}",
        "medium": None,
    }
    assert [i["asset_id"] for i in images] == [str(first.pk), str(second.pk)]
    listed = api_client.get("/api/v1/products").json()["results"][0]["image"]
    assert listed == images[0]


def test_fast_image_rendering_equals_the_declared_fields(shop):
    product, _ = _with_images(shop, "Lamp", 1)
    image = ProductImage.objects.select_related("asset").get(product=product)

    declared = serializers.Serializer.to_representation(ImageOutput(), image)

    assert image_as_dict(image) == declared


def test_list_queries_do_not_grow_with_images(api_client, shop, django_assert_num_queries):
    _with_images(shop, "one", 1)
    with django_assert_num_queries(4) as few:  # count + page + images + in-stock flags
        assert api_client.get("/api/v1/products").json()["count"] == 1
    for n in range(5):
        _with_images(shop, f"many {n}", 3)
    with django_assert_num_queries(len(few.captured_queries)):
        results = api_client.get("/api/v1/products").json()["results"]
    assert len(results) == 6
    assert all(r["image"]["thumbnails"]["small"].endswith("_small.webp") for r in results)


def test_detail_queries_do_not_grow_with_images_and_variants(
    api_client, shop, django_assert_num_queries
):
    small, _ = _with_images(shop, "small", 1)
    with django_assert_num_queries(3):  # product with shop and category + variants + images
        body = api_client.get(f"/api/v1/products/{small.pk}").json()
    assert (len(body["variants"]), len(body["images"])) == (1, 1)
    big = make_product(
        shop,
        name="big",
        variants=[
            {"options": {"color": f"c{i}"}, "price": Decimal("5"), "stock": i} for i in range(8)
        ],
    )
    assets = [_asset(shop.owner) for _ in range(6)]
    big = product_update(actor=shop.owner, product=big, data={"image_ids": [a.pk for a in assets]})
    with django_assert_num_queries(3):
        body = api_client.get(f"/api/v1/products/{big.pk}").json()
    assert (len(body["variants"]), len(body["images"])) == (8, 6)
    assert [v["available"] for v in body["variants"]] == list(range(8))
