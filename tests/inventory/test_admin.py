import pytest

from apps.inventory.models import StockMovement
from apps.inventory.services import stock_adjust
from tests.inventory.factories import StockItemFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_stock_admin_lists_with_available_and_filters_low_stock(admin_client):
    low = StockItemFactory(on_hand=6, reserved=2, low_stock_threshold=4, variant__sku="LOW-1")
    StockItemFactory(on_hand=60, variant__sku="HIGH-1")

    everything = admin_client.get("/admin/inventory/stockitem/")
    only_low = admin_client.get("/admin/inventory/stockitem/?low_stock=yes")

    assert everything.status_code == 200
    assert b"LOW-1" in everything.content
    assert b"HIGH-1" in everything.content
    assert b"LOW-1" in only_low.content
    assert b"HIGH-1" not in only_low.content
    detail = admin_client.get(f"/admin/inventory/stockitem/{low.pk}/change/")
    assert detail.status_code == 200


def test_movement_admin_is_read_only(admin_client):
    item = StockItemFactory(on_hand=1)
    stock_adjust(variant_id=item.variant_id, delta=2, reason="restock")
    movement = StockMovement.objects.get()

    assert admin_client.get("/admin/inventory/stockmovement/").status_code == 200
    assert admin_client.get("/admin/inventory/stockmovement/add/").status_code == 403
    response = admin_client.post(
        f"/admin/inventory/stockmovement/{movement.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 403
    assert StockMovement.objects.filter(pk=movement.pk).exists()


def test_stock_rows_cannot_be_deleted_in_the_admin(client):
    """Reservations and the ledger live on the stock row: it goes only with its variant."""
    from apps.inventory.models import StockItem
    from tests.inventory.factories import StockItemFactory
    from tests.users.factories import UserFactory

    item = StockItemFactory(on_hand=10, reserved=3)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(f"/admin/inventory/stockitem/{item.pk}/delete/")
    changelist = client.get("/admin/inventory/stockitem/")

    assert page.status_code == 403
    assert b'value="delete_selected"' not in changelist.content
    assert StockItem.objects.filter(pk=item.pk, reserved=3).exists()
