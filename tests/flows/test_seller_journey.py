"""A new seller signs up, opens a shop, uploads a photo and publishes a stocked product that
shoppers then find in the public list, in search and on its detail page, photo included."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.catalog.models import Product
from apps.inventory.models import StockItem
from apps.media.models import MediaAsset
from tests.flows.conftest import PROBLEM, png_bytes

pytestmark = pytest.mark.django_db


def stored_key(asset_id: str) -> str:
    return MediaAsset.objects.get(pk=asset_id).storage_key


ATTRIBUTES = {"manufacturer": "Acme", "model": "QT-1", "color": "black", "warranty_months": 12}


def test_seller_signs_up_opens_a_shop_and_publishes_a_product_with_a_photo(new_api):
    seller = new_api()
    signup = seller.signup("sam@example.com", "Sam Seller")
    assert signup["user"]["roles"] == ["customer"]
    assert signup["user"]["shop"] is None

    # Open the shop: the caller becomes its seller.
    response = seller.post(
        "/api/v1/shops",
        {
            "name": "Sam's Gadgets",
            "description": "Toasters and lamps.",
            "shipping_fee": "4.00",
            "free_shipping_threshold": "100.00",
        },
    )
    assert response.status_code == 201, response.content
    shop = response.json()
    assert {k: shop[k] for k in ("name", "slug", "status", "product_count", "currency")} == {
        "name": "Sam's Gadgets",
        "slug": "sams-gadgets",
        "status": "active",
        "product_count": 0,
        "currency": "USD",
    }
    me = seller.get("/api/v1/me").json()
    assert me["roles"] == ["customer", "seller"]
    assert me["shop"] == {"id": shop["id"], "slug": "sams-gadgets", "name": "Sam's Gadgets"}

    # Upload a real PNG; the worker (eager in tests) verifies, cleans and makes the thumbnails
    # after commit, so the 201 has no URL yet.
    upload = seller.post(
        "/api/v1/media",
        {"file": SimpleUploadedFile("toaster.png", png_bytes(), content_type="image/png")},
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    asset = upload.json()
    assert (asset["content_type"], asset["width"], asset["height"]) == ("image/png", 64, 48)
    assert asset["url"] is None
    stored = MediaAsset.objects.get(pk=asset["id"])
    assert stored.storage_key.endswith(".png")
    assert stored.owner.email == "sam@example.com"
    assert stored.status == MediaAsset.Status.READY
    ready = seller.get(f"/api/v1/media/{asset['id']}").json()
    assert ready["status"] == "ready"
    assert ready["url"] == f"/media/{stored_key(asset['id'])}"
    assert set(ready["thumbnails"]) == {"small", "medium"}
    assert all(url.endswith(".webp") for url in ready["thumbnails"].values())

    # Create a draft with the photo and 7 units of stock.
    response = seller.post(
        "/api/v1/products",
        {
            "type": "electronics",
            "name": "Quantum Toaster",
            "description": "Toasts in parallel universes.",
            "price": "49.99",
            "stock": 7,
            "attributes": ATTRIBUTES,
            "image_ids": [asset["id"]],
            "status": "published",  # not the caller's to set: ignored
            "rating_avg": "5.00",
        },
    )
    assert response.status_code == 201, response.content
    draft = response.json()
    assert (draft["status"], draft["slug"], draft["price"]) == ("draft", "quantum-toaster", "49.99")
    assert (draft["rating_avg"], draft["rating_count"]) == ("0.00", 0)
    (variant,) = draft["variants"]
    assert (variant["price"], variant["available"], variant["options"]) == ("49.99", 7, {})
    (image,) = draft["images"]
    assert image == {
        "id": image["id"],
        "asset_id": asset["id"],
        "url": ready["url"],
        "thumbnails": ready["thumbnails"],
        "width": 64,
        "height": 48,
        "position": 0,
        "alt_text": "",
    }
    stock = StockItem.objects.get(variant_id=variant["id"])
    assert (stock.on_hand, stock.reserved) == (7, 0)

    # A draft is invisible to the public.
    shopper = new_api()
    missing = shopper.get("/api/v1/products/quantum-toaster")
    assert missing.status_code == 404
    assert missing["Content-Type"].startswith(PROBLEM)
    assert shopper.get("/api/v1/products").json()["count"] == 0

    # Publish.
    response = seller.post(f"/api/v1/products/{draft['id']}/publish")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "published"
    assert Product.objects.get(pk=draft["id"]).published_at is not None

    # The public list, search and detail all show it with its photo.
    summary = {
        "id": draft["id"],
        "slug": "quantum-toaster",
        "name": "Quantum Toaster",
        "price": "49.99",
        "currency": "USD",
        "in_stock": True,
        "shop": {"id": shop["id"], "slug": "sams-gadgets", "name": "Sam's Gadgets"},
    }
    for query in ({}, {"search": "toaster"}, {"shop": "sams-gadgets", "in_stock": "true"}):
        listing = shopper.get("/api/v1/products", query)
        assert listing.status_code == 200
        body = listing.json()
        assert body["count"] == 1, query
        (row,) = body["results"]
        assert {k: row[k] for k in summary} == summary
        assert row["image"] == image
    assert shopper.get("/api/v1/products", {"search": "bicycle"}).json()["count"] == 0

    detail = shopper.get("/api/v1/products/quantum-toaster")
    assert detail.status_code == 200
    product = detail.json()
    assert product["id"] == draft["id"]
    assert product["status"] == "published"
    assert product["description"] == "Toasts in parallel universes."
    assert product["attributes"] == ATTRIBUTES
    assert [(v["id"], v["available"]) for v in product["variants"]] == [(variant["id"], 7)]
    assert product["images"] == [image]
    assert shopper.get(f"/api/v1/products/{draft['id']}").json()["slug"] == "quantum-toaster"

    # The shop's public page counts the product.
    assert shopper.get("/api/v1/shops/sams-gadgets").json()["product_count"] == 1

    # An asset in use by a product cannot be deleted.
    refused = seller.delete(f"/api/v1/media/{asset['id']}")
    assert refused.status_code == 409
    assert refused["Content-Type"].startswith(PROBLEM)
    assert MediaAsset.objects.filter(pk=asset["id"]).exists()
