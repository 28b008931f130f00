"""The Django admin changes the catalog only as the API does, through the services: products are
archived (never deleted), archived products are read-only, variants are deleted and deactivated
by `variant_delete` / `variant_update` (their refusals are shown and nothing changes), a product's
category must be global or its shop's, and its shop and slug stay."""

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages

from apps.cart.models import Cart, CartItem
from apps.catalog.models import Product, ProductVariant
from apps.events.models import OutboxEvent
from apps.inventory.models import StockItem, StockMovement
from apps.inventory.services import StockLine, stock_reserve
from apps.shops.models import Shop
from tests.catalog.factories import category, make_product
from tests.catalog.test_admin_validation import (
    cached_detail,
    change_url,
    current_variants,
    product_errors,
    product_form,
    variant_form,
    variant_url,
)
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/catalog/product/"
VARIANTS = "/admin/catalog/productvariant/"
ARCHIVED = "Archived products cannot change; unarchive is not supported."
LAST_ACTIVE = "A published product keeps at least one active variant; unpublish it first."
LAST_VARIANT = "A product keeps at least one variant."


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def phone(shop):
    """Published: PH-BLACK (5 on hand, 300.00) and PH-WHITE (3 on hand, 320.00), both active."""
    return make_product(
        shop,
        name="Phone",
        variants=[
            {"sku": "PH-BLACK", "options": {"color": "black"}, "price": "300.00", "stock": 5},
            {"sku": "PH-WHITE", "options": {"color": "white"}, "price": "320.00", "stock": 3},
        ],
    )


def variant(sku: str) -> ProductVariant:
    return ProductVariant.objects.get(sku=sku)


def reserve(sku: str, quantity: int) -> None:
    """A pending order holds `quantity` units."""
    stock_reserve(lines=[StockLine(variant(sku).pk, quantity)], order_id=uuid.uuid4())


def put_in_a_cart(sku: str, quantity: int = 1) -> None:
    CartItem.objects.create(
        cart=Cart.objects.create(user=UserFactory()), variant=variant(sku), quantity=quantity
    )


def deactivate_directly(sku: str) -> None:
    ProductVariant.objects.filter(sku=sku).update(is_active=False)


def state(product: Product) -> dict[str, Any]:
    """Everything a refused admin request must leave as it was."""
    return {
        "product": Product.objects.filter(pk=product.pk)
        .values("status", "name", "slug", "shop_id", "category_id", "price", "updated_at")
        .get(),
        "variants": list(
            ProductVariant.objects.filter(product_id=product.pk)
            .order_by("sku")
            .values_list("sku", "is_active", "price", "options", "updated_at")
        ),
        "stock": list(
            StockItem.objects.filter(variant__product_id=product.pk)
            .order_by("variant__sku")
            .values_list("variant__sku", "on_hand", "reserved")
        ),
        "ledger": sorted(
            StockMovement.objects.filter(stock_item__variant__product_id=product.pk).values_list(
                "pk", flat=True
            )
        ),
        "cart_items": sorted(
            CartItem.objects.filter(variant__product_id=product.pk).values_list(
                "variant__sku", "quantity"
            )
        ),
        "shop_counts": dict(Shop.objects.values_list("pk", "product_count")),
        "outbox": list(OutboxEvent.objects.values_list("type", "key")),
    }


def shown(response: Any) -> list[str]:
    """The messages of a followed response, as the page shows them."""
    messages = [str(message) for message in response.context["messages"]]
    for message in messages:
        assert message in response.content.decode()
    return messages


def queued(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def variant_formset_errors(response: Any) -> list[str]:
    (inline,) = [
        inline
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.prefix == "variants"
    ]
    return list(inline.formset.non_form_errors())


def unpublished_events(product: Product) -> list[dict[str, Any]]:
    return list(
        OutboxEvent.objects.filter(type="product.unpublished", key=str(product.pk)).values_list(
            "payload", flat=True
        )
    )


# --- products are archived, never deleted --------------------------------------------------------


def test_deleting_a_product_is_refused_with_a_message_and_changes_nothing(admin_client, phone):
    reserve("PH-BLACK", 2)
    put_in_a_cart("PH-WHITE")
    before = state(phone)
    delete_url = f"/admin/catalog/product/{phone.pk}/delete/"

    page = admin_client.get(delete_url, follow=True)
    posted = admin_client.post(delete_url, {"post": "yes"}, follow=True)

    refusal = (
        "Products are not deleted: archive them (orders, stock reservations and carts refer to "
        "them)."
    )
    for response in (page, posted):
        assert response.redirect_chain == [(change_url(phone), 302)]
        assert shown(response) == [refusal]
    assert state(phone) == before
    assert StockItem.objects.get(variant__sku="PH-BLACK").reserved == 2


def test_products_offer_no_delete_action_or_button_but_an_archive_one(admin_client, phone):
    changelist = admin_client.get(CHANGELIST)
    actions = [name for name, _ in changelist.context["action_form"].fields["action"].choices]
    assert actions == ["", "publish", "unpublish", "archive"]

    page = admin_client.get(change_url(phone))
    assert page.context["has_delete_permission"] is False
    html = page.content.decode()
    assert 'class="deletelink"' not in html  # the product's own Delete button
    assert f"/admin/catalog/product/{phone.pk}/delete/" not in html
    assert f'href="/admin/catalog/product/{phone.pk}/archive/"' in html

    before = state(phone)
    response = admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [str(phone.pk)]}
    )
    assert queued(response) == ["No action selected."]
    assert state(phone) == before


def test_archive_action_asks_first_then_archives_through_the_service(
    admin_client, api_client, seller_client, shop, phone, django_assert_num_queries
):
    draft = make_product(shop, name="Draft", publish=False)
    reserve("PH-BLACK", 2)
    put_in_a_cart("PH-WHITE")
    cached_detail(api_client, phone, django_assert_num_queries)
    assert Shop.objects.get(pk=shop.pk).product_count == 1
    before = state(phone)
    selected = {"action": "archive", "_selected_action": [str(phone.pk), str(draft.pk)]}

    confirmation = admin_client.post(CHANGELIST, selected)

    assert confirmation.status_code == 200
    assert set(confirmation.context["products"]) == {phone, draft}
    assert "Yes, archive" in confirmation.content.decode()
    assert state(phone) == before

    response = admin_client.post(CHANGELIST, {**selected, "post": "yes"}, follow=True)

    assert shown(response) == ["2 product(s) archived."]
    assert set(Product.objects.values_list("status", flat=True)) == {"archived"}
    assert unpublished_events(phone) == [
        {
            "product_id": str(phone.pk),
            "shop_id": str(shop.pk),
            "name": "Phone",
            "slug": "phone",
            "price": "300.00",
        }
    ]
    assert unpublished_events(draft) == []  # a draft was not on the storefront
    assert Shop.objects.get(pk=shop.pk).product_count == 0
    assert api_client.get(f"/api/v1/products/{phone.pk}").status_code == 404  # was cached
    assert api_client.get("/api/v1/products").json()["count"] == 0
    # Kept for the orders: variants, stock, the pending order's reservation, ledger, carts.
    after = state(phone)
    for kept in ("variants", "stock", "ledger", "cart_items"):
        assert after[kept] == before[kept]
    seller_view = seller_client.get(f"/api/v1/products/{phone.pk}")
    assert (seller_view.status_code, seller_view.json()["status"]) == (200, "archived")


def test_archive_button_confirms_then_archives(admin_client, shop, phone):
    url = f"/admin/catalog/product/{phone.pk}/archive/"
    before = state(phone)

    confirmation = admin_client.get(url)

    assert confirmation.status_code == 200
    assert confirmation.context["products"] == [phone]
    assert state(phone) == before

    response = admin_client.post(url, {"post": "yes"}, follow=True)

    assert response.redirect_chain == [(change_url(phone), 302)]
    assert shown(response) == ["Phone archived."]
    assert Product.objects.get(pk=phone.pk).status == "archived"
    assert len(unpublished_events(phone)) == 1
    assert Shop.objects.get(pk=shop.pk).product_count == 0
    assert "/archive/" not in response.content.decode()  # no button on an archived product


def test_archiving_an_archived_product_again_changes_nothing(admin_client, phone):
    admin_client.post(f"/admin/catalog/product/{phone.pk}/archive/", {"post": "yes"}, follow=True)
    before = state(phone)

    button = admin_client.post(f"/admin/catalog/product/{phone.pk}/archive/", follow=True)
    action = admin_client.post(
        CHANGELIST,
        {"action": "archive", "_selected_action": [str(phone.pk)], "post": "yes"},
        follow=True,
    )

    assert shown(button) == ["Phone was already archived."]
    assert shown(action) == ["Phone was already archived."]
    assert state(phone) == before


# --- archived products are read-only -------------------------------------------------------------


@pytest.fixture
def archived(admin_client, phone):
    url = f"/admin/catalog/product/{phone.pk}/archive/"
    response = admin_client.post(url, {"post": "yes"}, follow=True)
    assert shown(response) == ["Phone archived."]
    return Product.objects.get(pk=phone.pk)


def test_an_archived_product_is_shown_read_only(admin_client, archived):
    response = admin_client.get(change_url(archived))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    readonly = set(response.context["adminform"].readonly_fields)
    assert {"shop", "type", "name", "slug", "description", "category", "attributes"} <= readonly
    for inline in response.context["inline_admin_formsets"]:
        assert (
            inline.has_add_permission,
            inline.has_change_permission,
            inline.has_delete_permission,
        ) == (False, False, False)
    html = response.content.decode()
    assert 'name="_save"' not in html
    assert 'name="variants-0-DELETE"' not in html


def test_a_form_posted_for_an_archived_product_is_refused(admin_client, archived):
    before = state(archived)
    variants = current_variants(archived)
    variants[0]["delete"] = True
    variants[1]["price"] = "1.00"

    response = admin_client.post(
        change_url(archived),
        product_form(archived, name="Renamed", variants=variants),
        follow=True,
    )

    assert response.redirect_chain == [(change_url(archived), 302)]
    assert shown(response) == [f"Phone: {ARCHIVED}"]
    assert state(archived) == before


def test_publish_and_unpublish_refuse_an_archived_product(admin_client, archived):
    before = state(archived)

    for action in ("publish", "unpublish"):
        response = admin_client.post(
            CHANGELIST, {"action": action, "_selected_action": [str(archived.pk)]}, follow=True
        )
        assert shown(response) == [f"Phone: {ARCHIVED}"]

    assert state(archived) == before


def test_the_variants_of_an_archived_product_are_read_only(admin_client, archived):
    black = variant("PH-BLACK")
    before = state(archived)

    page = admin_client.get(variant_url(black))
    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False

    posted = admin_client.post(variant_url(black), variant_form(black, price="1.00"), follow=True)
    assert shown(posted) == [f"PH-BLACK: {ARCHIVED}"]
    deleted = admin_client.post(f"{VARIANTS}{black.pk}/delete/", {"post": "yes"}, follow=True)
    assert shown(deleted) == [f"PH-BLACK: {ARCHIVED}"]
    bulk = admin_client.post(
        VARIANTS,
        {"action": "delete_selected", "_selected_action": [str(black.pk)], "post": "yes"},
        follow=True,
    )
    assert shown(bulk) == [f"PH-BLACK: {ARCHIVED}"]
    added = admin_client.post(
        f"{VARIANTS}add/",
        {
            "product": str(archived.pk),
            "sku": "PH-NEW",
            "options": '{"color": "green"}',
            "price": "310.00",
            "position": "3",
            "is_active": "on",
            "stock-TOTAL_FORMS": "0",
            "stock-INITIAL_FORMS": "0",
            "stock-MIN_NUM_FORMS": "0",
            "stock-MAX_NUM_FORMS": "0",
        },
    )
    assert added.status_code == 200
    assert product_errors(added) == {"product": [ARCHIVED]}

    assert state(archived) == before


# --- variants: deleted and deactivated through the services, in the product's inline ------------


def test_inline_delete_of_the_last_active_variant_of_a_published_product_is_refused(
    admin_client, phone
):
    deactivate_directly("PH-WHITE")
    before = state(phone)
    variants = current_variants(phone)
    variants[0]["delete"] = True

    response = admin_client.post(
        change_url(phone), product_form(phone, name="Renamed", variants=variants)
    )

    assert response.status_code == 200
    assert variant_formset_errors(response) == [LAST_ACTIVE]
    assert state(phone) == before


def test_inline_deactivating_every_variant_of_a_published_product_is_refused(admin_client, phone):
    before = state(phone)
    variants = current_variants(phone)
    for row in variants:
        row["is_active"] = False

    response = admin_client.post(change_url(phone), product_form(phone, variants=variants))

    assert response.status_code == 200
    assert variant_formset_errors(response) == [LAST_ACTIVE]
    assert state(phone) == before


def test_inline_delete_and_deactivation_are_checked_together(admin_client, phone):
    """Each would be allowed alone; together they leave no active variant."""
    before = state(phone)
    variants = current_variants(phone)
    variants[0]["delete"] = True
    variants[1]["is_active"] = False

    response = admin_client.post(change_url(phone), product_form(phone, variants=variants))

    assert response.status_code == 200
    assert variant_formset_errors(response) == [LAST_ACTIVE]
    assert state(phone) == before


def test_inline_delete_of_a_variant_with_reserved_stock_is_refused(admin_client, phone):
    reserve("PH-BLACK", 2)
    before = state(phone)
    variants = current_variants(phone)
    variants[0]["delete"] = True

    response = admin_client.post(change_url(phone), product_form(phone, variants=variants))

    assert response.status_code == 200
    assert variant_formset_errors(response) == ["2 units of PH-BLACK are reserved by orders."]
    assert state(phone) == before
    assert StockItem.objects.get(variant__sku="PH-BLACK").reserved == 2


def test_inline_delete_of_every_variant_is_refused(admin_client, shop):
    draft = make_product(
        shop,
        name="Draft",
        publish=False,
        variants=[
            {"sku": "DR-1", "options": {"color": "red"}, "price": "5.00"},
            {"sku": "DR-2", "options": {"color": "blue"}, "price": "6.00"},
        ],
    )
    before = state(draft)
    variants = current_variants(draft)
    for row in variants:
        row["delete"] = True

    response = admin_client.post(change_url(draft), product_form(draft, variants=variants))

    assert response.status_code == 200
    assert variant_formset_errors(response) == [LAST_VARIANT]
    assert state(draft) == before


def test_inline_delete_goes_through_variant_delete_and_refreshes_the_cache(
    admin_client, api_client, phone, django_assert_num_queries
):
    put_in_a_cart("PH-BLACK")
    cached_detail(api_client, phone, django_assert_num_queries)
    variants = current_variants(phone)
    variants[0]["delete"] = True

    response = admin_client.post(change_url(phone), product_form(phone, variants=variants))

    assert response.status_code == 302
    assert list(phone.variants.values_list("sku", flat=True)) == ["PH-WHITE"]
    # As the API's variant_delete: its stock row, ledger and cart lines go with it.
    assert not StockItem.objects.filter(variant__sku="PH-BLACK").exists()
    assert StockMovement.objects.filter(stock_item__variant__product=phone).count() == 1
    assert not CartItem.objects.exists()
    assert Product.objects.get(pk=phone.pk).price == Decimal("320.00")
    body = api_client.get(f"/api/v1/products/{phone.pk}").json()
    assert (body["price"], [v["sku"] for v in body["variants"]]) == ("320.00", ["PH-WHITE"])


def test_inline_deactivation_goes_through_variant_update_and_refreshes_the_cache(
    admin_client, api_client, phone, django_assert_num_queries
):
    cached_detail(api_client, phone, django_assert_num_queries)
    variants = current_variants(phone)
    variants[0]["is_active"] = False
    variants[0]["price"] = "100.00"  # saved with the deactivation
    variants[1]["price"] = "310.00"

    response = admin_client.post(change_url(phone), product_form(phone, variants=variants))

    assert response.status_code == 302
    assert dict(phone.variants.values_list("sku", "is_active")) == {
        "PH-BLACK": False,
        "PH-WHITE": True,
    }
    assert dict(phone.variants.values_list("sku", "price")) == {
        "PH-BLACK": Decimal("100.00"),
        "PH-WHITE": Decimal("310.00"),
    }
    assert Product.objects.get(pk=phone.pk).price == Decimal("310.00")  # the active ones only
    body = api_client.get(f"/api/v1/products/{phone.pk}").json()
    assert (body["price"], [v["sku"] for v in body["variants"]]) == ("310.00", ["PH-WHITE"])


def test_a_refusal_raised_while_saving_rolls_the_whole_save_back(admin_client, phone, monkeypatch):
    """The variants changed between the form's check and the service call (simulated by skipping
    the form's check): the service refuses, and the edits saved before it are rolled back."""
    monkeypatch.setattr("apps.catalog.forms.variant_removal_check", lambda **kwargs: None)
    deactivate_directly("PH-WHITE")
    before = state(phone)
    variants = current_variants(phone)
    variants[0]["delete"] = True
    variants[1]["price"] = "1.00"

    response = admin_client.post(
        change_url(phone), product_form(phone, name="Renamed", variants=variants)
    )

    # The form again, with the input kept and the refusal above it; nothing saved.
    assert response.status_code == 200
    assert product_errors(response) == {"__all__": [LAST_ACTIVE]}
    assert response.context["adminform"].form["name"].value() == "Renamed"
    assert state(phone) == before


# --- variants: their own page, delete page and bulk action ---------------------------------------


def test_variant_page_refuses_to_deactivate_the_last_active_variant(admin_client, phone):
    deactivate_directly("PH-WHITE")
    black = variant("PH-BLACK")
    before = state(phone)

    response = admin_client.post(
        variant_url(black), variant_form(black, is_active=False, price="1.00")
    )

    assert response.status_code == 200
    assert product_errors(response) == {"is_active": [LAST_ACTIVE]}
    assert state(phone) == before


def test_variant_page_refusal_raised_while_saving_changes_nothing(admin_client, phone, monkeypatch):
    monkeypatch.setattr("apps.catalog.forms.variant_removal_check", lambda **kwargs: None)
    deactivate_directly("PH-WHITE")
    black = variant("PH-BLACK")
    before = state(phone)

    response = admin_client.post(
        variant_url(black), variant_form(black, is_active=False, price="1.00")
    )

    assert response.status_code == 200
    assert product_errors(response) == {"__all__": [LAST_ACTIVE]}
    assert response.context["adminform"].form["price"].value() == "1.00"
    assert state(phone) == before


def test_variant_page_deactivation_goes_through_variant_update(
    admin_client, api_client, phone, django_assert_num_queries
):
    cached_detail(api_client, phone, django_assert_num_queries)
    black = variant("PH-BLACK")

    response = admin_client.post(variant_url(black), variant_form(black, is_active=False))

    assert response.status_code == 302
    assert variant("PH-BLACK").is_active is False
    body = api_client.get(f"/api/v1/products/{phone.pk}").json()
    assert (body["price"], [v["sku"] for v in body["variants"]]) == ("320.00", ["PH-WHITE"])


def test_variant_delete_page_refuses_a_variant_with_reserved_stock(admin_client, phone):
    reserve("PH-BLACK", 2)
    black = variant("PH-BLACK")
    before = state(phone)

    for response in (
        admin_client.get(f"{VARIANTS}{black.pk}/delete/", follow=True),
        admin_client.post(f"{VARIANTS}{black.pk}/delete/", {"post": "yes"}, follow=True),
    ):
        assert response.redirect_chain == [(variant_url(black), 302)]
        assert shown(response) == ["PH-BLACK: 2 units of PH-BLACK are reserved by orders."]

    assert state(phone) == before


def test_variant_delete_page_refuses_the_last_active_variant(admin_client, phone):
    deactivate_directly("PH-WHITE")
    black = variant("PH-BLACK")
    before = state(phone)

    response = admin_client.post(f"{VARIANTS}{black.pk}/delete/", {"post": "yes"}, follow=True)

    assert shown(response) == [f"PH-BLACK: {LAST_ACTIVE}"]
    assert state(phone) == before


def test_variant_delete_page_deletes_through_the_service(
    admin_client, api_client, phone, django_assert_num_queries
):
    cached_detail(api_client, phone, django_assert_num_queries)
    white = variant("PH-WHITE")

    confirmation = admin_client.get(f"{VARIANTS}{white.pk}/delete/")
    # What goes with it is listed; the read-only ledger admin does not block it (the service
    # decides, as in the API).
    assert confirmation.status_code == 200
    assert confirmation.context["perms_lacking"] == set()
    response = admin_client.post(f"{VARIANTS}{white.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert list(phone.variants.values_list("sku", flat=True)) == ["PH-BLACK"]
    assert not StockItem.objects.filter(variant__sku="PH-WHITE").exists()
    body = api_client.get(f"/api/v1/products/{phone.pk}").json()
    assert [v["sku"] for v in body["variants"]] == ["PH-BLACK"]


def test_bulk_delete_action_asks_first_then_deletes_each_variant_through_the_service(
    admin_client, api_client, phone, django_assert_num_queries
):
    reserve("PH-BLACK", 2)
    cached_detail(api_client, phone, django_assert_num_queries)
    before = state(phone)
    selected = {
        "action": "delete_selected",
        "_selected_action": [str(variant("PH-BLACK").pk), str(variant("PH-WHITE").pk)],
    }

    confirmation = admin_client.post(VARIANTS, selected)

    assert confirmation.status_code == 200
    assert confirmation.context["perms_lacking"] == set()
    assert state(phone) == before

    response = admin_client.post(VARIANTS, {**selected, "post": "yes"}, follow=True)

    assert sorted(shown(response)) == [
        "1 variant(s) deleted.",
        "PH-BLACK: 2 units of PH-BLACK are reserved by orders.",
    ]
    assert list(phone.variants.values_list("sku", flat=True)) == ["PH-BLACK"]
    assert StockItem.objects.get(variant__sku="PH-BLACK").reserved == 2
    body = api_client.get(f"/api/v1/products/{phone.pk}").json()
    assert [v["sku"] for v in body["variants"]] == ["PH-BLACK"]


def test_bulk_delete_of_the_last_active_variant_is_refused(admin_client, phone):
    deactivate_directly("PH-WHITE")
    before = state(phone)

    response = admin_client.post(
        VARIANTS,
        {
            "action": "delete_selected",
            "_selected_action": [str(variant("PH-BLACK").pk)],
            "post": "yes",
        },
        follow=True,
    )

    assert shown(response) == [f"PH-BLACK: {LAST_ACTIVE}"]
    assert state(phone) == before


def test_the_api_refuses_deleting_a_variant_with_reserved_stock_too(seller_client, phone):
    reserve("PH-BLACK", 2)
    before = state(phone)

    response = seller_client.delete(
        f"/api/v1/products/{phone.pk}/variants/{variant('PH-BLACK').pk}"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "catalog.variant_in_use"
    assert state(phone) == before


def test_variant_delete_locks_the_stock_row_before_it_checks_for_reservations(seller_client, phone):
    """A reservation cannot commit between the VariantInUse check and the delete (which takes
    the stock row with it): the row is locked first."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    doomed = variant("PH-BLACK")
    with CaptureQueriesContext(connection) as captured:
        response = seller_client.delete(f"/api/v1/products/{phone.pk}/variants/{doomed.pk}")

    assert response.status_code == 204
    statements = [q["sql"] for q in captured.captured_queries]
    check = next(i for i, sql in enumerate(statements) if '"reserved" > 0' in sql)
    if connection.vendor == "postgresql":
        lock = next(
            i
            for i, sql in enumerate(statements)
            if sql.endswith('FOR UPDATE OF "inventory_stockitem"')
        )
        assert lock < check
    assert not StockItem.objects.filter(variant_id=doomed.pk).exists()


# --- category, shop and slug ---------------------------------------------------------------------


def test_a_category_of_another_shop_is_refused(admin_client, phone, other_shop):
    theirs = category("Theirs", shop=other_shop)
    before = state(phone)

    response = admin_client.post(change_url(phone), product_form(phone, category=str(theirs.pk)))

    assert response.status_code == 200
    assert product_errors(response) == {
        "category": [
            "No such category. A product may use a global category or one of its shop's "
            f"({phone.shop})."
        ]
    }
    assert state(phone) == before


def test_adding_a_product_with_a_category_of_another_shop_creates_nothing(
    admin_client, shop, other_shop
):
    theirs = category("Theirs", shop=other_shop)
    data = product_form(
        None,
        shop=str(shop.pk),
        type="furniture",
        name="Chair",
        slug="chair",
        description="",
        category=str(theirs.pk),
        attributes={"brand": "Oakly"},
        variants=[{"sku": "CH-1", "options": {"color": "oak"}, "price": "80.00"}],
    )

    response = admin_client.post("/admin/catalog/product/add/", data)

    assert response.status_code == 200
    assert list(product_errors(response)) == ["category"]
    assert not Product.objects.exists()
    assert not ProductVariant.objects.exists()


def test_a_global_or_own_category_is_accepted(admin_client, phone):
    for chosen in (category("Global"), category("Ours", shop=phone.shop)):
        response = admin_client.post(
            change_url(phone), product_form(phone, category=str(chosen.pk))
        )
        assert response.status_code == 302
        assert Product.objects.get(pk=phone.pk).category_id == chosen.pk


def test_shop_and_slug_stay_once_the_product_exists(admin_client, shop, other_shop, phone):
    page = admin_client.get(change_url(phone))
    assert {"shop", "slug"} <= set(page.context["adminform"].readonly_fields)
    assert {"shop", "slug"} <= set(
        admin_client.get(f"{CHANGELIST}add/").context["adminform"].form.fields
    )
    counts = dict(Shop.objects.values_list("pk", "product_count"))
    assert (counts[shop.pk], counts[other_shop.pk]) == (1, 0)

    response = admin_client.post(
        change_url(phone),
        product_form(phone, shop=str(other_shop.pk), slug="moved", name="Phone 2"),
    )

    assert response.status_code == 302
    product = Product.objects.get(pk=phone.pk)
    assert (product.shop_id, product.slug, product.name) == (shop.pk, "phone", "Phone 2")
    assert dict(Shop.objects.values_list("pk", "product_count")) == counts


# --- staff only ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "customer", "seller"])
def test_only_staff_reach_the_archive_page_and_actions(client, phone, who):
    if who == "customer":
        client.force_login(UserFactory())
    elif who == "seller":
        client.force_login(phone.shop.owner)
    before = state(phone)
    black = variant("PH-BLACK")

    for response in (
        client.get(f"/admin/catalog/product/{phone.pk}/archive/"),
        client.post(f"/admin/catalog/product/{phone.pk}/archive/", {"post": "yes"}),
        client.post(
            CHANGELIST,
            {"action": "archive", "_selected_action": [str(phone.pk)], "post": "yes"},
        ),
        client.post(f"{VARIANTS}{black.pk}/delete/", {"post": "yes"}),
        client.post(
            VARIANTS,
            {"action": "delete_selected", "_selected_action": [str(black.pk)], "post": "yes"},
        ),
    ):
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/")

    assert state(phone) == before


def test_staff_who_may_only_view_cannot_archive_publish_or_delete_variants(client, phone):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_product", "view_productvariant"])
    )
    client.force_login(viewer)
    before = state(phone)
    black = variant("PH-BLACK")

    changelist = client.get(CHANGELIST)
    assert changelist.status_code == 200
    assert changelist.context["action_form"] is None  # no action left to offer
    assert "/archive/" not in client.get(change_url(phone)).content.decode()
    assert client.get(f"/admin/catalog/product/{phone.pk}/archive/").status_code == 403
    assert client.post(f"/admin/catalog/product/{phone.pk}/archive/").status_code == 403
    for action in ("archive", "publish", "unpublish"):
        client.post(
            CHANGELIST, {"action": action, "_selected_action": [str(phone.pk)], "post": "yes"}
        )
    assert client.post(f"{VARIANTS}{black.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(
        VARIANTS, {"action": "delete_selected", "_selected_action": [str(black.pk)], "post": "yes"}
    )

    assert state(phone) == before


# --- categories: the product details that show them ------------------------------------------


def _category_form(node, **fields: Any) -> dict[str, str]:
    data = {
        "name": node.name,
        "slug": node.slug,
        "description": node.description,
        "shop": "",
        "treebeard_position": "sorted-child",
        "treebeard_ref_node": "",
    }
    data.update(fields)
    return data


def test_a_category_rename_in_the_admin_shows_on_cached_product_details(
    admin_client, api_client, shop, django_assert_num_queries
):
    from tests.catalog.test_admin_validation import cached_detail

    lamps = category("Lamps")
    product = make_product(shop, category=lamps, stock=1)
    assert cached_detail(api_client, product, django_assert_num_queries)["category"]["name"] == (
        "Lamps"
    )

    response = admin_client.post(
        f"/admin/catalog/category/{lamps.pk}/change/", _category_form(lamps, name="Lighting")
    )

    assert response.status_code == 302, response.content[:2000]
    detail = api_client.get(f"/api/v1/products/{product.pk}").json()
    assert detail["category"]["name"] == "Lighting"


def test_a_category_delete_in_the_admin_shows_on_cached_product_details(
    admin_client, api_client, shop, django_assert_num_queries
):
    from tests.catalog.test_admin_validation import cached_detail

    home = category("Home")
    lamps = category("Lamps", parent=home)
    product = make_product(shop, category=lamps, stock=1)
    assert cached_detail(api_client, product, django_assert_num_queries)["category"] is not None

    # Deleting the parent takes the subtree along; the product is left without a category.
    response = admin_client.post(f"/admin/catalog/category/{home.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert api_client.get(f"/api/v1/products/{product.pk}").json()["category"] is None


def test_a_save_writes_only_what_the_form_changed(admin_client, phone, monkeypatch):
    """A review (rating) and a publication landing while the admin saves are kept: the save
    writes the columns the form changed, not the whole row it read."""
    from apps.catalog.admin import ProductAdminForm

    clean = ProductAdminForm.clean

    def clean_while_others_write(form):
        Product.objects.filter(pk=phone.pk).update(rating_avg=Decimal("4.50"), rating_count=2)
        return clean(form)

    monkeypatch.setattr(ProductAdminForm, "clean", clean_while_others_write)
    response = admin_client.post(change_url(phone), product_form(phone, name="Phone 2"))

    assert response.status_code == 302, product_errors(response)
    phone.refresh_from_db()
    assert (phone.name, phone.rating_avg, phone.rating_count) == ("Phone 2", Decimal("4.50"), 2)
    assert phone.status == Product.Status.PUBLISHED
