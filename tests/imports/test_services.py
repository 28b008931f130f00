"""The import job service (`import_job_run`) on product files of the benchmark's shape."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import ProductVariant
from apps.events.models import OutboxEvent
from apps.imports.models import ImportJob
from apps.imports.services import import_job_create, import_job_run
from apps.inventory.models import StockMovement
from bench.imports import csv_file
from tests.shops.factories import ShopFactory

pytestmark = pytest.mark.django_db


def run_job(shop, data: bytes) -> tuple[ImportJob, int]:
    """A queued job of `data` run by the worker's service; the statements the run made."""
    job = import_job_create(
        actor=shop.owner, shop=shop, kind="products", file_name="rows.csv", data=data
    )
    with CaptureQueriesContext(connection) as queries:
        import_job_run(job_id=job.pk)
    return ImportJob.objects.get(pk=job.pk), len(queries)


def test_a_jobs_statements_do_not_grow_with_its_rows():
    """Given files of 20 and 400 rows (5 and 100 products of 4 variants, one batch each), their
    runs make the same number of statements, and every row is written."""
    shop = ShopFactory()
    run_job(shop, csv_file("0", 4))  # warm: content types, first-use lookups

    small, small_statements = run_job(shop, csv_file("1", 20))
    large, large_statements = run_job(shop, csv_file("2", 400))

    assert (small.status, small.rows_new, large.status, large.rows_new) == (
        "succeeded",
        20,
        "succeeded",
        400,
    )
    assert large_statements == small_statements
    assert small_statements <= 40
    assert ProductVariant.objects.filter(product__shop=shop).count() == 4 + 20 + 400
    stocked = StockMovement.objects.filter(stock_item__variant__product__shop=shop)
    assert stocked.filter(kind="restock").count() == 424
    assert OutboxEvent.objects.filter(type="stock.adjusted").count() == 424


def test_the_same_file_again_writes_nothing():
    shop = ShopFactory()
    data = csv_file("3", 40)
    run_job(shop, data)
    counts = (StockMovement.objects.count(), OutboxEvent.objects.count())

    again, statements = run_job(shop, data)

    assert (again.status, again.rows_new, again.rows_skipped) == ("succeeded", 0, 40)
    assert (StockMovement.objects.count(), OutboxEvent.objects.count()) == counts
    assert statements <= 16  # the job's claim and outcome, the savepoints, one read of the SKUs
