"""Every registered ModelAdmin, loaded as staff would use it, on the demo data (`seed_demo`) plus
the rows the demo does not make (follows, API keys, tokens, media, notifications, ...):

- the changelist, its search (`?q=a`), one filtered URL per list_filter (and the date
  hierarchy), the change page of an existing row and the add page: 200, or 403 for an add page
  the admin refuses on purpose (`ADD_REFUSED`);
- the changelist's query count does not grow when rows with other related objects are added;
- staff without model permissions get 403, non-staff users are sent to the login page, and a
  view-only staff member cannot run the actions that change rows.
"""

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.models import F, Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.cart.services import cart_get_for_user, cart_item_add
from apps.catalog.models import ProductVariant
from apps.events import emit
from apps.events.models import ProcessedEvent
from apps.notifications.models import Announcement, EmailDelivery
from apps.orders.models import Order
from apps.reviews.models import Comment
from apps.reviews.services import comment_create
from apps.users.models import Shop, User
from apps.users.services import (
    api_key_create,
    api_key_revoke,
    session_revoke_all,
    session_tokens_issue,
    shop_follow,
)
from tests.catalog.factories import ProductFactory, VariantFactory, category
from tests.discounts.factories import DiscountFactory
from tests.inventory.factories import StockItemFactory, stocked_variant
from tests.media.factories import MediaAssetFactory
from tests.notifications.factories import NotificationFactory
from tests.orders.factories import order_in
from tests.reviews.factories import ReviewFactory
from tests.users.factories import AddressFactory, ShopFactory, UserFactory

pytestmark = pytest.mark.django_db

REGISTRY: dict[type[Model], admin.ModelAdmin] = admin.site._registry
LABELS = sorted(model._meta.label for model in REGISTRY)

# Models whose add page is refused on purpose (403): their rows are made by services, commands or
# the API only (orders by order_place, stock rows by stock_adjust, API keys by the command or the
# API because the raw key is shown once, reviews through the API for the product rating, ...).
ADD_REFUSED = {
    "events.OutboxEvent",
    "events.ProcessedEvent",
    "inventory.StockItem",
    "inventory.StockMovement",
    "media.MediaAsset",
    "notifications.EmailDelivery",
    "notifications.Notification",
    "orders.Checkout",
    "orders.Order",
    "reviews.Comment",
    "reviews.Review",
    "token_blacklist.BlacklistedToken",
    "token_blacklist.OutstandingToken",
    "users.ApiKey",
    "users.ShopFollow",
}


def _model(label: str) -> type[Model]:
    return next(model for model in REGISTRY if model._meta.label == label)


def _url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _seed() -> None:
    """The demo data, then one or more rows of every registered model the demo leaves empty."""
    call_command("seed_demo", stdout=io.StringIO())
    customer = User.objects.get(email="customer@example.com")
    staff = User.objects.get(email="admin@example.com")
    shop = Shop.objects.order_by("name").first()
    assert shop is not None
    Group.objects.create(name="Catalog editors").permissions.set(
        Permission.objects.filter(content_type__app_label="catalog")
    )
    AddressFactory(user=customer)
    shop_follow(shop=shop, user=customer)
    api_key_create(name="storefront", created_by=staff)
    revoked, _ = api_key_create(name="old storefront", created_by=staff)
    api_key_revoke(key_id=revoked.pk)
    session_tokens_issue(user=customer)
    session_revoke_all(user=customer)
    session_tokens_issue(user=customer)
    MediaAssetFactory(owner=shop.owner)
    variant = ProductVariant.objects.filter(
        is_active=True, product__status="published", stock__on_hand__gt=5
    ).first()
    assert variant is not None
    cart_item_add(cart=cart_get_for_user(user=customer), variant_id=variant.pk, quantity=1)
    notification = NotificationFactory(recipient=customer, read_at=timezone.now())
    NotificationFactory(recipient=customer)
    EmailDelivery.objects.create(notification=notification, sent_at=timezone.now(), attempts=1)
    Announcement.objects.create(title="Spring sale", body="All week.", created_by=staff)
    ProcessedEvent.objects.create(consumer="notifications", event_id=notification.event_id)


def _comment() -> Comment:
    product = ProductFactory()
    return comment_create(product_id=product.pk, author=UserFactory(), body="Any news?")


def _blacklisted_token() -> None:
    user = UserFactory()
    session_tokens_issue(user=user)
    session_revoke_all(user=user)


def _stock_movement() -> None:
    from apps.inventory.services import stock_adjust

    stock_adjust(
        variant_id=stocked_variant().pk, delta=3, reason="restock", actor=ShopFactory().owner
    )


def _email_delivery() -> None:
    EmailDelivery.objects.create(notification=NotificationFactory(), attempts=1)


# One more row of each model, with related objects (shop, owner, product, ...) of its own.
MORE_ROWS: dict[str, Callable[[], Any]] = {
    "auth.Group": lambda: Group.objects.create(name=f"Group {Group.objects.count()}"),
    "token_blacklist.OutstandingToken": lambda: session_tokens_issue(user=UserFactory()),
    "token_blacklist.BlacklistedToken": _blacklisted_token,
    "events.OutboxEvent": lambda: emit("shop.updated", "k", {"shop_id": "k", "fields": []}),
    "events.ProcessedEvent": lambda: ProcessedEvent.objects.create(
        consumer="c", event_id=NotificationFactory().event_id
    ),
    "users.User": UserFactory,
    "users.Shop": ShopFactory,
    "users.Address": AddressFactory,
    "users.ShopFollow": lambda: shop_follow(shop=ShopFactory(), user=UserFactory()),
    "users.ApiKey": lambda: api_key_create(name="k", created_by=UserFactory()),
    "media.MediaAsset": MediaAssetFactory,
    "catalog.Category": lambda: category(f"Cat {timezone.now().timestamp()}", shop=ShopFactory()),
    "catalog.Product": ProductFactory,
    "catalog.ProductVariant": VariantFactory,
    "inventory.StockItem": StockItemFactory,
    "inventory.StockMovement": _stock_movement,
    "discounts.Discount": DiscountFactory,
    "cart.Cart": lambda: cart_get_for_user(user=UserFactory()),
    "orders.Order": lambda: order_in(Order.Status.CONFIRMED),
    "orders.Checkout": lambda: order_in(Order.Status.PENDING),
    "reviews.Review": ReviewFactory,
    "reviews.Comment": _comment,
    "notifications.Notification": NotificationFactory,
    "notifications.EmailDelivery": _email_delivery,
    "notifications.Announcement": lambda: Announcement.objects.create(
        title="News", body="Body", created_by=UserFactory()
    ),
}


@pytest.fixture
def seeded() -> None:
    _seed()


@pytest.fixture
def superuser_client(seeded: None) -> Client:
    client = Client()
    client.force_login(User.objects.get(email="admin@example.com"))
    return client


def test_every_registered_model_is_covered():
    assert set(MORE_ROWS) == set(LABELS)
    assert set(ADD_REFUSED) <= set(LABELS)


def _filtered_urls(client: Client, changelist: str) -> list[str]:
    """One URL per list filter (its first choice that is not "All") and per date hierarchy."""
    response = client.get(changelist)
    assert response.status_code == 200
    cl = response.context["cl"]
    urls = []
    for spec in cl.filter_specs:
        choices = [choice for choice in spec.choices(cl) if not choice["selected"]]
        assert choices, f"{spec.title}: no choice to filter by"
        urls.append(changelist + choices[0]["query_string"])
    if cl.date_hierarchy:
        field = cl.date_hierarchy
        latest = cl.root_queryset.order_by(f"-{field}").values_list(field, flat=True).first()
        assert latest is not None
        urls.append(f"{changelist}?{field}__year={latest.year}")
    return urls


@pytest.mark.parametrize("label", LABELS)
def test_admin_pages_load(superuser_client, label):
    model = _model(label)
    model_admin = REGISTRY[model]
    changelist = _url(model, "changelist")
    assert model._default_manager.exists(), f"no {label} row to show"

    assert superuser_client.get(changelist).status_code == 200
    if model_admin.search_fields:
        assert superuser_client.get(changelist + "?q=a").status_code == 200
    filtered = _filtered_urls(superuser_client, changelist)
    assert len(filtered) == len(model_admin.list_filter) + bool(model_admin.date_hierarchy)
    for url in filtered:
        response = superuser_client.get(url)
        assert response.status_code == 200, url

    obj = model._default_manager.order_by("pk").first()
    assert obj is not None
    assert superuser_client.get(_url(model, "change", obj.pk)).status_code == 200

    add = superuser_client.get(_url(model, "add"))
    assert add.status_code == (403 if label in ADD_REFUSED else 200)


def _changelist_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("label", LABELS)
def test_changelist_queries_do_not_grow_with_rows(superuser_client, label):
    model = _model(label)
    url = _url(model, "changelist")
    before_rows = model._default_manager.count()
    before = _changelist_queries(superuser_client, url)
    for _ in range(4):
        MORE_ROWS[label]()
    assert model._default_manager.count() >= before_rows + 4
    assert _changelist_queries(superuser_client, url) == before


def _admin_urls(model: type[Model]) -> list[str]:
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None
    return [
        _url(model, "changelist"),
        _url(model, "add"),
        _url(model, "change", obj.pk),
        _url(model, "delete", obj.pk),
        _url(model, "history", obj.pk),
    ]


def test_staff_without_permissions_get_403_and_users_go_to_login(seeded):
    staff, customer = Client(), Client()
    staff.force_login(UserFactory(is_staff=True))
    customer.force_login(User.objects.get(email="customer@example.com"))
    product = _model("catalog.Product")._default_manager.order_by("pk").first()
    assert product is not None
    urls = [url for model in REGISTRY for url in _admin_urls(model)]
    urls.append(_url(_model("catalog.Product"), "archive", product.pk))

    for url in urls:
        assert staff.get(url).status_code == 403, url
        response = customer.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"{reverse('admin:login')}?next={url}"
    assert staff.get(reverse("admin:index")).status_code == 200


# Actions that change rows, by model; a staff member who may only view the model must not see
# them, nor run them by posting the form.
CHANGING_ACTIONS = {
    "catalog.Product": ["publish", "unpublish", "archive"],
    "orders.Order": ["confirm", "ship", "deliver", "cancel", "refund", "refund_restock"],
    "reviews.Review": ["hide_reviews", "publish_reviews"],
    "reviews.Comment": ["remove_threads"],
    "users.Shop": ["suspend", "activate"],
    "users.ApiKey": ["revoke"],
    "users.User": ["sign_out_everywhere"],
    "notifications.Announcement": ["send"],
    "events.OutboxEvent": ["republish"],
}


@pytest.mark.parametrize("label", sorted(CHANGING_ACTIONS))
def test_view_only_staff_cannot_run_changing_actions(seeded, label):
    model = _model(label)
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get(
            content_type__app_label=model._meta.app_label,
            codename=f"view_{model._meta.model_name}",
        )
    )
    client = Client()
    client.force_login(staff)
    url = _url(model, "changelist")
    listing = client.get(url)
    assert listing.status_code == 200
    action_form = listing.context["action_form"]  # None when no action is left
    offered = {name for name, _ in action_form.fields["action"].choices} if action_form else set()
    assert not offered & set(CHANGING_ACTIONS[label])

    objs = list(model._default_manager.order_by("pk")[:2])
    snapshot = [model._default_manager.filter(pk=obj.pk).values().get() for obj in objs]
    for action in CHANGING_ACTIONS[label]:
        response = client.post(
            url,
            {"action": action, "_selected_action": [obj.pk for obj in objs], "post": "yes"},
        )
        # With other actions left: "No action selected." and back to the list; with none, the
        # post is not an action at all and the list is shown again.
        assert response.status_code == (302 if action_form else 200)
    after = [model._default_manager.filter(pk=obj.pk).values().get() for obj in objs]
    assert after == snapshot


# --- Saves and actions go through the services


def _post_data(response: Any, **changes: Any) -> dict[str, Any]:
    """What the change page's form would post unchanged (main form and inline management forms,
    initial values), with `changes` applied."""
    data: dict[str, Any] = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms.append(formset.management_form)
        forms.extend(formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None or value is False:
                continue
            if isinstance(value, list | tuple):
                data[form.add_prefix(name)] = [str(v) for v in value]
            else:
                data[form.add_prefix(name)] = field.widget.format_value(value) or value
    data.update(changes)
    return data


def _events(type_: str) -> list[dict[str, Any]]:
    from apps.events.models import OutboxEvent

    return list(
        OutboxEvent.objects.filter(type=type_).order_by("seq").values_list("payload", flat=True)
    )


def test_shop_suspend_action_goes_through_the_service(superuser_client):
    shop = Shop.objects.get(slug="northwind-electronics")
    response = superuser_client.post(
        _url(Shop, "changelist"), {"action": "suspend", "_selected_action": [shop.pk]}
    )
    assert response.status_code == 302
    shop.refresh_from_db()
    assert shop.status == Shop.Status.SUSPENDED
    # The catalog drops the shop's cached products on this event.
    assert _events("shop.updated") == [{"shop_id": str(shop.pk), "fields": ["status"]}]


def _meanwhile(monkeypatch: pytest.MonkeyPatch, model: type[Model], change: Callable) -> None:
    """Run `change` right after the admin loads the object it saves: a write that lands while
    the admin's request runs (a follow, a reservation)."""
    model_admin = REGISTRY[model]
    load = model_admin.get_object

    def get_object(request: Any, object_id: str, from_field: Any = None) -> Any:
        obj = load(request, object_id, from_field)
        if request.method == "POST":
            change(obj)
        return obj

    monkeypatch.setattr(model_admin, "get_object", get_object)


def test_shop_change_form_writes_the_changed_fields_only(superuser_client, monkeypatch):
    shop = Shop.objects.get(slug="northwind-electronics")
    url = _url(Shop, "change", shop.pk)
    page = superuser_client.get(url)
    data = _post_data(page, name="Northwind", slug="renamed", follower_count="0")
    _meanwhile(
        monkeypatch,
        Shop,
        lambda obj: Shop.objects.filter(pk=obj.pk).update(follower_count=F("follower_count") + 41),
    )

    response = superuser_client.post(url, data)

    assert response.status_code == 302
    shop.refresh_from_db()
    assert (shop.name, shop.slug, shop.follower_count) == ("Northwind", "northwind-electronics", 41)
    assert _events("shop.updated") == [{"shop_id": str(shop.pk), "fields": ["name"]}]


def test_stock_threshold_save_leaves_the_quantities_to_the_services(superuser_client, monkeypatch):
    from apps.inventory.models import StockItem

    item = StockItem.objects.filter(reserved=0, on_hand__gt=0).order_by("pk").first()
    assert item is not None
    url = _url(StockItem, "change", item.pk)
    page = superuser_client.get(url)
    _meanwhile(
        monkeypatch,
        StockItem,
        lambda obj: StockItem.objects.filter(pk=obj.pk).update(reserved=1),
    )

    response = superuser_client.post(url, _post_data(page, low_stock_threshold="7"))

    assert response.status_code == 302
    item_after = StockItem.objects.get(pk=item.pk)
    assert (item_after.on_hand, item_after.reserved, item_after.low_stock_threshold) == (
        item.on_hand,
        1,
        7,
    )


def test_discount_admin_add_announces_through_the_service(superuser_client):
    from apps.discounts.models import Discount

    shop = Shop.objects.get(slug="northwind-electronics")
    page = superuser_client.get(_url(Discount, "add"))
    data = _post_data(
        page,
        shop=str(shop.pk),
        code="ADMIN10",
        name="Admin ten",
        type="percentage",
        value="10",
        min_order_value="0",
        applies_to="all",
        is_active="on",
        is_public="on",
    )

    response = superuser_client.post(_url(Discount, "add"), data)

    assert response.status_code == 302
    discount = Discount.objects.get(code="ADMIN10")
    assert discount.announced_at is not None
    assert [p["discount_id"] for p in _events("shop.new_discount")][-1] == str(discount.pk)


def test_discount_admin_change_refused_by_the_service_changes_nothing(superuser_client):
    from apps.discounts.models import Discount

    discount = DiscountFactory(shop=Shop.objects.get(slug="northwind-electronics"))
    before = Discount.objects.filter(pk=discount.pk).values().get()
    url = _url(Discount, "change", discount.pk)
    page = superuser_client.get(url)

    # applies_to=products without products: refused by discount_update, as in the API.
    response = superuser_client.post(url, _post_data(page, applies_to="products", name="New"))

    # The form again with the input kept and the refusal on the field it names; nothing saved.
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors == {"products": ["applies_to=products needs product_ids."]}
    assert form["name"].value() == "New"
    assert Discount.objects.filter(pk=discount.pk).values().get() == before


def test_blacklisted_tokens_cannot_be_deleted_or_edited(superuser_client):
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

    entry = BlacklistedToken.objects.order_by("pk").first()
    assert entry is not None
    assert superuser_client.get(_url(BlacklistedToken, "delete", entry.pk)).status_code == 403
    response = superuser_client.post(_url(BlacklistedToken, "change", entry.pk), {})
    assert response.status_code == 403
    assert BlacklistedToken.objects.filter(pk=entry.pk).exists()
