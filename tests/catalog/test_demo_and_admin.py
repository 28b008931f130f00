import io

import pytest

from apps.catalog.demo import PRODUCTS, seed
from apps.catalog.models import Category, Product, ProductVariant
from apps.events.models import OutboxEvent
from apps.inventory.demo import seed_bulk
from apps.inventory.models import StockItem, StockMovement
from tests.catalog.factories import make_product
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_shops():
    return [
        ShopFactory(owner=UserFactory(email="seller1@example.com")),
        ShopFactory(owner=UserFactory(email="seller2@example.com")),
    ]


def test_seed_is_idempotent_and_covers_every_type(demo_shops, api_client):
    out = io.StringIO()
    seed(out)
    assert "15 products created" in out.getvalue()
    counts = (Category.objects.count(), Product.objects.count(), ProductVariant.objects.count())
    assert counts[1] == len(PRODUCTS)
    assert set(Product.objects.values_list("type", flat=True)) == {
        "electronics",
        "clothing",
        "furniture",
        "motorbike",
    }
    assert Product.objects.filter(status="draft").count() == 2
    assert OutboxEvent.objects.filter(type="product.published").count() == 13
    assert StockItem.objects.filter(on_hand__gt=0).count() > 20
    assert StockMovement.objects.filter(kind="restock").count() == StockItem.objects.count()

    seed(out := io.StringIO())
    assert "0 categories and 0 products created" in out.getvalue()
    assert (
        Category.objects.count(),
        Product.objects.count(),
        ProductVariant.objects.count(),
    ) == counts
    # The storefront sees them, with category filtering through the tree.
    response = api_client.get("/api/v1/products", {"category": "home"})
    assert response.json()["count"] == 3


def test_seed_without_shops_only_makes_categories():
    out = io.StringIO()
    seed(out)
    assert "no shops" in out.getvalue()
    assert Category.objects.count() > 10
    assert Product.objects.count() == 0


def test_seed_bulk(shop, api_client):
    assert seed_bulk(30, shop) == 30
    assert seed_bulk(32, shop) == 2  # tops up
    assert Product.objects.filter(shop=shop, status="published").count() == 32
    assert ProductVariant.objects.count() == 96
    assert StockItem.objects.filter(on_hand=50, reserved=0).count() == 96
    assert StockMovement.objects.filter(kind="restock", quantity=50).count() == 96
    product = Product.objects.get(slug="bulk-4")
    assert product.price == min(v.price for v in product.variants.all())
    body = api_client.get("/api/v1/products", {"in_stock": "true", "page_size": 100}).json()
    assert body["count"] == 32
    word = product.name.split()[1]
    found = api_client.get("/api/v1/products", {"search": word}).json()["results"]
    assert str(product.pk) in [p["id"] for p in found]


# --- admin ---------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_admin_pages_render(admin_client, shop):
    product = make_product(shop, stock=3)
    variant = product.variants.get()
    assert admin_client.get("/admin/catalog/product/").status_code == 200
    assert admin_client.get("/admin/catalog/product/", {"q": variant.sku}).status_code == 200
    page = admin_client.get(f"/admin/catalog/product/{product.pk}/change/")
    assert page.status_code == 200
    assert variant.sku in page.content.decode()
    variant_page = admin_client.get(f"/admin/catalog/productvariant/{variant.pk}/change/")
    assert variant_page.status_code == 200
    # The stock row is the inventory app's inline, registered on the catalog's variant page.
    [stock_inline] = variant_page.context["inline_admin_formsets"]
    assert stock_inline.opts.model is StockItem
    assert [form.original.on_hand for form in stock_inline] == [3]
    assert admin_client.get("/admin/catalog/category/").status_code == 200


def test_admin_publish_and_unpublish_actions_use_the_services(admin_client, shop):
    draft = make_product(shop, publish=False)
    published = make_product(shop, name="Live")
    response = admin_client.post(
        "/admin/catalog/product/",
        {"action": "publish", "_selected_action": [str(draft.pk)]},
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "published"
    assert OutboxEvent.objects.filter(type="product.published", key=str(draft.pk)).exists()
    admin_client.post(
        "/admin/catalog/product/",
        {"action": "unpublish", "_selected_action": [str(published.pk)]},
    )
    published.refresh_from_db()
    assert published.status == "draft"
    assert OutboxEvent.objects.filter(type="product.unpublished", key=str(published.pk)).exists()
