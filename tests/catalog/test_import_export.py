"""Products in CSV and XLSX through the catalog services (apps.catalog.resources)."""

from decimal import Decimal

import pytest
import tablib

from apps.catalog.models import Product, ProductVariant
from apps.catalog.resources import ProductResource
from apps.core.resources import row_errors
from apps.events.models import OutboxEvent
from apps.inventory.models import StockItem, StockMovement
from tests.catalog.factories import category, make_product
from tests.shops.factories import ShopFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "handle,shop,type,name,description,category,sku,price,stock,"
    "attr.manufacturer,attr.engine_cc,attr.year,attr.brand,attr.size,option.color,option.size"
)


def dataset(*rows: str, header: str = HEADER) -> tablib.Dataset:
    return tablib.Dataset().load("\n".join([header, *rows]) + "\n", format="csv")


def snapshot() -> dict:
    """Everything an import could touch."""
    return {
        "products": sorted(Product.objects.values_list("pk", "name", "attributes", "updated_at")),
        "variants": sorted(
            ProductVariant.objects.values_list("pk", "sku", "price", "options", "updated_at")
        ),
        "stock": sorted(StockItem.objects.values_list("pk", "on_hand")),
        "movements": StockMovement.objects.count(),
        "events": OutboxEvent.objects.count(),
    }


@pytest.fixture
def shop():
    shop = ShopFactory(slug="moto-shop")
    category("Bikes", slug="bikes")
    return shop


@pytest.fixture
def staff(django_user_model):
    from tests.users.factories import UserFactory

    return UserFactory(is_staff=True)


GOOD = (
    "r6,moto-shop,motorbike,R6,Sport bike,bikes,R6-RED,9999.00,3,Moto,600,2022,,,red,",
    "r6,moto-shop,,,,,R6-BLU,10499.50,2,,,,,,blue,",
    "tee,moto-shop,clothing,Team tee,,,TEE-M,19.90,40,,,,Loom,M,,M",
)


def test_import_creates_products_variants_prices_and_stock_through_the_services(shop, staff):
    result = ProductResource(actor=staff).import_data(dataset(*GOOD))

    assert not result.has_errors()
    assert not result.has_validation_errors()
    assert result.totals["new"] == 3
    bike = Product.objects.get(name="R6")
    assert (bike.shop, bike.type, bike.status, bike.category.slug) == (
        shop,
        "motorbike",
        "draft",
        "bikes",
    )
    assert bike.attributes == {"manufacturer": "Moto", "engine_cc": 600, "year": 2022}
    assert bike.price == Decimal("9999.00")  # the lowest variant price
    variants = {v.sku: v for v in bike.variants.select_related("stock")}
    assert {sku: (v.price, v.options, v.stock.on_hand) for sku, v in variants.items()} == {
        "R6-RED": (Decimal("9999.00"), {"color": "red"}, 3),
        "R6-BLU": (Decimal("10499.50"), {"color": "blue"}, 2),
    }
    tee = Product.objects.get(name="Team tee")
    assert tee.attributes == {"brand": "Loom", "size": "M"}
    # Initial stock went through the ledger, with who did it.
    movements = StockMovement.objects.filter(stock_item__variant__product__shop=shop)
    assert sorted(movements.values_list("kind", "quantity", "actor")) == [
        ("restock", 2, staff.pk),
        ("restock", 3, staff.pk),
        ("restock", 40, staff.pk),
    ]
    assert OutboxEvent.objects.filter(type="stock.adjusted").count() == 3


def test_dry_run_reports_and_changes_nothing(shop, staff):
    before = snapshot()

    result = ProductResource(actor=staff).import_data(dataset(*GOOD), dry_run=True)

    assert result.totals["new"] == 3
    assert row_errors(result) == []
    assert snapshot() == before


def test_importing_the_same_file_again_changes_nothing(shop, staff):
    ProductResource(actor=staff).import_data(dataset(*GOOD))
    before = snapshot()

    again = ProductResource(actor=staff).import_data(dataset(*GOOD))

    assert again.totals["skip"] == 3
    assert again.totals["new"] == again.totals["update"] == 0
    assert snapshot() == before


def test_a_file_with_errors_changes_nothing_and_reports_each_bad_row_and_column(shop, staff):
    existing = make_product(shop, type="motorbike", name="Old bike")
    before = snapshot()
    bad = dataset(
        GOOD[0],  # fine, but the file as a whole is refused
        "x1,moto-shop,motorbike,X1,,,X1-RED,abc,3,Moto,big,2022,,,red,",
        "t2,moto-shop,clothing,Tee 2,,,TEE-XXL,5.00,,,,,Loom,HUGE,,M",
        "t3,moto-shop,clothing,,,,TEE-NONAME,5.00,,,,,Loom,,,",
        "t4,moto-shop,spaceship,Rocket,,,ROCKET,5.00,,,,,,,,",
        f"t5,moto-shop,motorbike,Copy,,,{existing.variants.get().sku},-1,,,,,,,,",
        "t6,nowhere,clothing,Tee 6,,,TEE-6,5.00,,,,,Loom,,,",
    )

    result = ProductResource(actor=staff).import_data(bad)

    assert row_errors(result) == [
        {"row": 2, "column": "price", "detail": "Must be an amount such as 19.99."},
        {"row": 2, "column": "attr.engine_cc", "detail": "Must be a whole number."},
        {
            "row": 3,
            "column": "attr.size",
            "detail": "Must be one of: XXS, XS, S, M, L, XL, XXL, XXXL, one-size.",
        },
        {"row": 4, "column": "name", "detail": "Required."},
        {
            "row": 5,
            "column": "type",
            "detail": "Must be one of: electronics, clothing, furniture, motorbike.",
        },
        {
            "row": 6,
            "column": "price",
            "detail": "Must be an amount of 0 or more with at most two decimals.",
        },
        {"row": 7, "column": "shop", "detail": "No shop 'nowhere'."},
    ]
    assert snapshot() == before


def test_a_seller_imports_into_their_own_shop_only(shop):
    other = ShopFactory(slug="other-shop")
    theirs = make_product(other, name="Theirs")
    rows = (
        "a,,clothing,Mine,,,MINE-1,5.00,1,,,,Loom,,,",
        f"b,,clothing,Steal,,,{theirs.variants.get().sku},1.00,,,,,Loom,,,",
        "c,other-shop,clothing,Elsewhere,,,ELSE-1,5.00,,,,,Loom,,,",
    )

    result = ProductResource(actor=shop.owner, shop=shop).import_data(dataset(*rows))

    assert row_errors(result) == [
        {
            "row": 2,
            "column": "sku",
            "detail": f"SKU {theirs.variants.get().sku} is already in use.",
        },
        {"row": 3, "column": "shop", "detail": "Rows can only add to your own shop."},
    ]
    assert not Product.objects.filter(name__in=["Mine", "Steal", "Elsewhere"]).exists()
    fixed = ProductResource(actor=shop.owner, shop=shop).import_data(dataset(rows[0]))
    assert not fixed.has_validation_errors()
    assert Product.objects.get(name="Mine").shop == shop


def test_changed_rows_update_through_the_services_and_new_skus_join_their_product(shop, staff):
    ProductResource(actor=staff).import_data(dataset(*GOOD))
    changed = dataset(
        "r6,moto-shop,motorbike,R6 2023,Sport bike,bikes,R6-RED,9500.00,99,Moto,600,2023,,,red,",
        "r6,moto-shop,,,,,R6-BLU,10499.50,2,,,,,,blue,",
        "r6,moto-shop,,,,,R6-BLK,9800.00,5,,,,,,black,",
    )

    result = ProductResource(actor=staff).import_data(changed)

    assert row_errors(result) == []
    assert (result.totals["update"], result.totals["skip"], result.totals["new"]) == (1, 1, 1)
    bike = Product.objects.get(variants__sku="R6-RED")
    assert (bike.name, bike.attributes["year"], bike.price) == ("R6 2023", 2023, Decimal("9500.00"))
    assert sorted(bike.variants.values_list("sku", "price")) == [
        ("R6-BLK", Decimal("9800.00")),
        ("R6-BLU", Decimal("10499.50")),
        ("R6-RED", Decimal("9500.00")),
    ]
    # Stock is only set when a variant is created: R6-RED keeps its 3, R6-BLK starts with 5.
    assert StockItem.objects.get(variant__sku="R6-RED").on_hand == 3
    assert StockItem.objects.get(variant__sku="R6-BLK").on_hand == 5


def test_later_rows_of_a_handle_must_agree_with_the_first(shop, staff):
    rows = dataset(
        "r6,moto-shop,motorbike,R6,,,R6-RED,9999.00,,Moto,600,,,,red,",
        "r6,moto-shop,,R6 other name,,,R6-BLU,9999.00,,,700,,,,blue,",
    )

    result = ProductResource(actor=staff).import_data(rows)

    assert row_errors(result) == [
        {"row": 2, "column": "name", "detail": "Differs from row 1 of handle 'r6'."},
        {"row": 2, "column": "attr.engine_cc", "detail": "Differs from row 1 of handle 'r6'."},
    ]
    assert not Product.objects.filter(shop=shop).exists()


def test_export_matches_the_database_and_imports_back_unchanged(shop, staff):
    ProductResource(actor=staff).import_data(dataset(*GOOD))
    before = snapshot()

    exported = ProductResource(actor=staff).export(queryset=Product.objects.filter(shop=shop))

    rows = list(exported.dict)
    assert len(rows) == ProductVariant.objects.filter(product__shop=shop).count() == 3
    for row in rows:
        variant = ProductVariant.objects.select_related("product__category", "stock").get(
            sku=row["sku"]
        )
        product = variant.product
        assert row["handle"] == product.slug
        assert row["shop"] == "moto-shop"
        assert (row["type"], row["name"], row["description"]) == (
            product.type,
            product.name,
            product.description,
        )
        assert row["category"] == (product.category.slug if product.category else "")
        assert Decimal(row["price"]) == variant.price
        assert int(row["stock"]) == variant.stock.on_hand
        for name, value in product.attributes.items():
            assert row[f"attr.{name}"] == str(value)
        for name, value in variant.options.items():
            assert row[f"option.{name}"] == value
    again = ProductResource(actor=staff).import_data(
        tablib.Dataset().load(exported.csv, format="csv")
    )
    assert again.totals["skip"] == 3
    assert snapshot() == before


def test_xlsx_imports_like_csv(shop, staff):
    book = dataset(*GOOD).export("xlsx")

    result = ProductResource(actor=staff).import_data(tablib.Dataset().load(book, format="xlsx"))

    assert row_errors(result) == []
    assert ProductVariant.objects.filter(product__shop=shop).count() == 3


# --- batches ----------------------------------------------------------------------------------

SIZES = ("S", "M", "L", "XL")


def tees(products: int, prefix: str = "T") -> tablib.Dataset:
    """`products` clothing products of four sizes each, with stock: the benchmark's file."""
    rows = [
        ",".join(
            [
                f"tee-{number}",
                "clothing" if size == "S" else "",
                f"Tee {prefix}{number}" if size == "S" else "",
                f"{prefix}{number}-{size}",
                "12.50",
                "4",
                "Loom" if size == "S" else "",
                size,
            ]
        )
        for number in range(products)
        for size in SIZES
    ]
    return dataset(*rows, header="handle,type,name,sku,price,stock,attr.brand,option.size")


def statements_of(shop, rows: tablib.Dataset) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        result = ProductResource(actor=shop.owner, shop=shop).import_data(rows)
    assert row_errors(result) == []
    return len(queries)


def test_the_statements_of_an_import_grow_per_batch_not_per_row(shop, monkeypatch):
    """Given batches of 5 new products, the statements of an import are a fixed number plus a
    fixed number per batch, whatever the rows of each batch (each product here has 4 rows)."""
    monkeypatch.setattr(ProductResource, "CHUNK_PRODUCTS", 5)
    statements_of(shop, tees(1, prefix="W"))  # warm: content types, first-use lookups

    one_batch = statements_of(shop, tees(5, prefix="A"))  # 20 rows
    two_batches = statements_of(shop, tees(10, prefix="B"))  # 40 rows
    four_batches = statements_of(shop, tees(20, prefix="C"))  # 80 rows

    per_batch = two_batches - one_batch
    assert four_batches - two_batches == 2 * per_batch
    # products_create_many (a savepoint): the SKU check, the slugs, the products, the variants
    # (a savepoint of their own), the search vectors; stock_initial_record (a savepoint): the
    # stock rows, their lock, the conditional update, the ledger, the events.
    assert per_batch == 2 + 5 + 2 + 2 + 5
    assert one_batch <= 30
    assert ProductVariant.objects.filter(product__shop=shop).count() == 4 * (1 + 5 + 10 + 20)
    assert StockMovement.objects.filter(stock_item__variant__product__shop=shop).count() == 144
    assert OutboxEvent.objects.filter(type="stock.adjusted").count() == 144


def test_a_batch_of_new_products_is_written_like_product_create_writes_one(shop):
    rows = tees(3)

    result = ProductResource(actor=shop.owner, shop=shop).import_data(rows)

    assert result.totals["new"] == 12
    products = Product.objects.filter(shop=shop).order_by("name")
    assert [(p.name, p.slug, p.price, p.status) for p in products] == [
        ("Tee T0", "tee-t0", Decimal("12.50"), "draft"),
        ("Tee T1", "tee-t1", Decimal("12.50"), "draft"),
        ("Tee T2", "tee-t2", Decimal("12.50"), "draft"),
    ]
    variants = ProductVariant.objects.filter(product=products[0]).select_related("stock")
    assert [(v.sku, v.position, v.options, v.stock.on_hand) for v in variants] == [
        ("T0-S", 0, {"size": "S"}, 4),
        ("T0-M", 1, {"size": "M"}, 4),
        ("T0-L", 2, {"size": "L"}, 4),
        ("T0-XL", 3, {"size": "XL"}, 4),
    ]
    # Searchable as product_create leaves a product.
    assert Product.objects.filter(shop=shop, search_vector="tee").count() == 3


def test_a_handle_whose_rows_span_two_batches_keeps_them_together(shop, monkeypatch):
    """A handle's later row after its batch was written joins the written product."""
    monkeypatch.setattr(ProductResource, "CHUNK_PRODUCTS", 1)
    rows = dataset(
        "a,,clothing,Tee A,,,A-S,5.00,1,,,,Loom,,,S",
        "b,,clothing,Tee B,,,B-S,5.00,2,,,,Loom,,,S",
        "a,,,,,,A-M,6.00,3,,,,,,,M",
    )

    result = ProductResource(actor=shop.owner, shop=shop).import_data(rows)

    assert row_errors(result) == []
    tee = Product.objects.get(name="Tee A")
    assert sorted(tee.variants.values_list("sku", "position", "stock__on_hand")) == [
        ("A-M", 1, 3),
        ("A-S", 0, 1),
    ]
    assert OutboxEvent.objects.filter(type="stock.adjusted").count() == 3


def test_a_new_sku_twice_in_a_file_is_refused_on_its_second_row(shop):
    before = snapshot()
    rows = dataset(
        "a,,clothing,Tee A,,,SAME,5.00,1,,,,Loom,,,S",
        "b,,clothing,Tee B,,,SAME,5.00,1,,,,Loom,,,S",
        "a,,,,,,SAME,5.00,1,,,,,,,M",
    )

    result = ProductResource(actor=shop.owner, shop=shop).import_data(rows)

    assert row_errors(result) == [
        {"row": 2, "column": "sku", "detail": "SKU SAME is already in use."},
        {"row": 3, "column": "sku", "detail": "SKU SAME is already in use."},
    ]
    assert snapshot() == before


def test_a_new_products_later_rows_are_checked_as_variant_create_checks_them(shop):
    """A later row of a new handle: options of the type and unlike the handle's other rows; a
    blank price is the product's (its lowest so far). Any refusal leaves the file unwritten."""
    before = snapshot()
    rows = (
        "a,,clothing,Tee A,,,A-S,5.00,1,,,,Loom,,,S",
        "a,,,,,,A-S2,5.00,1,,,,,,,S",
        "a,,,,,,A-Z,,1,,,,,,,HUGE",
        "a,,,,,,A-M,,1,,,,,,,M",
    )

    result = ProductResource(actor=shop.owner, shop=shop).import_data(dataset(*rows))

    assert row_errors(result) == [
        {
            "row": 2,
            "column": "sku",
            "detail": "Another variant of this product has the same options.",
        },
        {
            "row": 3,
            "column": "option.size",
            "detail": "Must be one of: XXS, XS, S, M, L, XL, XXL, XXXL, one-size.",
        },
    ]
    assert snapshot() == before
    fixed = ProductResource(actor=shop.owner, shop=shop).import_data(dataset(rows[0], rows[3]))
    assert row_errors(fixed) == []
    assert sorted(ProductVariant.objects.values_list("sku", "price")) == [
        ("A-M", Decimal("5.00")),
        ("A-S", Decimal("5.00")),
    ]


def test_a_resource_imports_a_second_file_as_a_new_one_would(shop):
    """A dry run then the real run with one resource (what an editor might do): the second run
    does not take the first one's rows for its own."""
    resource = ProductResource(actor=shop.owner, shop=shop)
    rows = tees(2)

    dry = resource.import_data(rows, dry_run=True)
    real = resource.import_data(rows)

    assert (dry.totals["new"], real.totals["new"]) == (8, 8)
    assert row_errors(real) == []
    assert ProductVariant.objects.filter(product__shop=shop).count() == 8
