"""POST /api/v1/seller/imports and GET /api/v1/seller/imports/{id}: a seller's file imported by
a worker, all or nothing, with the job row as the durable record."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.catalog.models import Product, ProductVariant
from apps.imports.models import ImportJob
from apps.imports.services import import_job_run, import_jobs_recover
from apps.inventory.models import StockItem
from tests.conftest import auth_client
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/seller/imports"
PROBLEM = "application/problem+json"
GOOD = (
    "handle,type,name,sku,price,stock,attr.brand,option.size\n"
    "tee,clothing,Tee,TEE-S,15.00,4,Loom,S\n"
    "tee,,,TEE-M,15.00,6,,M\n"
)


def upload(text: str, name: str = "rows.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), "text/csv")


@pytest.fixture
def shop():
    return ShopFactory()


@pytest.fixture
def seller(shop):
    return auth_client(shop.owner)


def post(client, text: str, capture, **fields):
    with capture(execute=True):
        return client.post(
            URL, {"file": upload(text), "kind": "products", **fields}, format="multipart"
        )


def test_a_seller_imports_a_file_and_follows_the_job(
    seller, shop, django_capture_on_commit_callbacks
):
    response = post(seller, GOOD, django_capture_on_commit_callbacks)

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["rows_total"], body["kind"], body["format"]) == (
        "queued",
        2,
        "products",
        "csv",
    )
    job = seller.get(f"{URL}/{body['id']}").json()
    assert job["status"] == "succeeded"
    assert job["rows_processed"] == 2
    assert job["counts"] == {"new": 2, "updated": 0, "skipped": 0, "invalid": 0}
    assert job["errors"] == []
    tee = Product.objects.get(name="Tee")
    assert tee.shop == shop
    assert sorted(tee.variants.values_list("sku", "stock__on_hand")) == [("TEE-M", 6), ("TEE-S", 4)]

    again = seller.get(
        f"{URL}/{post(seller, GOOD, django_capture_on_commit_callbacks).json()['id']}"
    ).json()
    assert again["counts"] == {"new": 0, "updated": 0, "skipped": 2, "invalid": 0}
    assert ProductVariant.objects.filter(product__shop=shop).count() == 2


def test_a_file_with_errors_changes_nothing_and_lists_each_problem(
    seller, shop, django_capture_on_commit_callbacks
):
    bad = GOOD.replace("15.00,6", "free,6")

    body = post(seller, bad, django_capture_on_commit_callbacks).json()

    job = seller.get(f"{URL}/{body['id']}").json()
    assert job["status"] == "failed"
    assert job["errors"] == [
        {"row": 2, "column": "price", "detail": "Must be an amount such as 19.99."}
    ]
    assert job["counts"]["invalid"] == 1
    assert not Product.objects.filter(shop=shop).exists()


def test_a_dry_run_reports_and_saves_nothing(seller, shop, django_capture_on_commit_callbacks):
    body = post(seller, GOOD, django_capture_on_commit_callbacks, dry_run="true").json()

    job = seller.get(f"{URL}/{body['id']}").json()
    assert (job["status"], job["dry_run"], job["counts"]["new"]) == ("succeeded", True, 2)
    assert not Product.objects.filter(shop=shop).exists()


def test_stock_levels_import(seller, shop, django_capture_on_commit_callbacks):
    post(seller, GOOD, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        response = seller.post(
            URL,
            {"file": upload("sku,on_hand\nTEE-S,10\nTEE-M,6\n"), "kind": "stock"},
            format="multipart",
        )

    job = seller.get(f"{URL}/{response.json()['id']}").json()
    assert job["counts"] == {"new": 0, "updated": 1, "skipped": 1, "invalid": 0}
    assert StockItem.objects.get(variant__sku="TEE-S").on_hand == 10


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (
            "name,price\nTee,1.00\n",
            "The first row must name the columns, and a `sku` column is required.",
        ),
        ("sku,price\n", "A file holds 1 to 50,000 rows; this one 0."),
    ],
)
def test_unreadable_files_are_400(seller, text, detail):
    response = seller.post(URL, {"file": upload(text), "kind": "products"}, format="multipart")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "import.invalid_file"
    assert response.json()["errors"] == [{"pointer": "/file", "code": "invalid", "detail": detail}]
    assert not ImportJob.objects.exists()


def test_a_bad_kind_is_400(seller):
    response = seller.post(URL, {"file": upload(GOOD), "kind": "orders"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/kind"


def test_roles(api_client, seller, shop, django_capture_on_commit_callbacks):
    job_id = post(seller, GOOD, django_capture_on_commit_callbacks).json()["id"]
    other_seller = auth_client(ShopFactory().owner)
    customer = auth_client(UserFactory())

    assert other_seller.get(f"{URL}/{job_id}").status_code == 404
    assert customer.get(f"{URL}/{job_id}").status_code == 403
    assert (
        customer.post(
            URL, {"file": upload(GOOD), "kind": "products"}, format="multipart"
        ).status_code
        == 403
    )
    assert api_client.get(f"{URL}/{job_id}").status_code == 401
    assert api_client.post(URL, {}, format="multipart").status_code == 401


def test_a_job_is_run_once(shop):
    job = ImportJob.objects.create(
        shop=shop,
        created_by=shop.owner,
        kind="products",
        format="csv",
        source=GOOD.encode(),
        rows_total=2,
    )

    first = import_job_run(job_id=job.pk)
    second = import_job_run(job_id=job.pk)

    assert first.status == "succeeded"
    assert second is None
    assert ProductVariant.objects.filter(product__shop=shop).count() == 2


def test_the_sweep_runs_a_job_whose_enqueue_was_lost_and_one_whose_worker_died(shop):
    long_ago = timezone.now() - timedelta(hours=2)
    lost = ImportJob.objects.create(
        shop=shop,
        created_by=shop.owner,
        kind="products",
        format="csv",
        source=GOOD.encode(),
        rows_total=2,
    )
    died = ImportJob.objects.create(
        shop=shop,
        created_by=shop.owner,
        kind="stock",
        format="csv",
        source=b"sku,on_hand\nTEE-S,9\n",
        rows_total=1,
        status="running",
        started_at=long_ago,
    )
    fresh = ImportJob.objects.create(
        shop=shop,
        created_by=shop.owner,
        kind="products",
        format="csv",
        source=GOOD.encode(),
        rows_total=2,
    )
    ImportJob.objects.filter(pk__in=[lost.pk, died.pk]).update(updated_at=long_ago)
    ImportJob.objects.filter(pk=fresh.pk).update(created_at=timezone.now())

    assert import_jobs_recover() == 2  # eager here: each runs as it is enqueued

    lost.refresh_from_db()
    died.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == "succeeded"
    assert (died.status, died.attempts) == ("succeeded", 1)
    assert fresh.status == "queued"  # not lost yet: its own enqueue may still come
    assert StockItem.objects.get(variant__sku="TEE-S").on_hand == 9


def test_a_crashed_run_is_queued_again_then_given_up_after_three(shop, monkeypatch):
    from apps.imports import services

    job = ImportJob.objects.create(
        shop=shop, created_by=shop.owner, kind="products", format="csv", source=GOOD.encode()
    )

    def crash(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setitem(services.RESOURCES, "products", crash)
    for attempt in (1, 2, 3):
        with pytest.raises(RuntimeError):
            import_job_run(job_id=job.pk)
        job.refresh_from_db()
        assert job.attempts == attempt
        assert job.status == ("queued" if attempt < 3 else "failed")
    assert job.errors == [
        {"row": 0, "column": None, "detail": "The import could not run; try again."}
    ]
    assert import_job_run(job_id=job.pk) is None
    assert not Product.objects.filter(shop=shop).exists()
