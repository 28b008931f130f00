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
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.models import F, Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.cart.services import cart_get_for_user, cart_item_add
from apps.catalog.models import ProductVariant
from apps.catalog.widgets import SchemaField
from apps.events import emit
from apps.events.models import ProcessedEvent
from apps.notifications.models import Announcement, EmailDelivery
from apps.orders.models import Order
from apps.reviews.models import Comment
from apps.reviews.services import comment_create
from apps.shops.models import Shop
from apps.shops.services import shop_follow
from apps.users.models import Session, User
from apps.users.services.api_keys import api_key_create, api_key_revoke
from apps.users.services.sessions import session_revoke_all, session_tokens_issue
from tests.catalog.factories import ProductFactory, VariantFactory, category
from tests.discounts.factories import DiscountFactory
from tests.inventory.factories import StockItemFactory, stocked_variant
from tests.media.factories import MediaAssetFactory
from tests.notifications.factories import NotificationFactory
from tests.orders.factories import order_in
from tests.payments.factories import event_row, payment_row, payout_row, refund_row
from tests.reviews.factories import ReviewFactory
from tests.shops.factories import ShopFactory
from tests.users.factories import AddressFactory, UserFactory
from tests.webhooks.factories import delivery_row, endpoint_row

pytestmark = pytest.mark.django_db

REGISTRY: dict[type[Model], admin.ModelAdmin] = admin.site._registry
LABELS = sorted(model._meta.label for model in REGISTRY)

# Models whose add page is refused on purpose (403): their rows are made by services, commands or
# the API only (orders by order_place, stock rows by stock_adjust, API keys by the command or the
# API because the raw key is shown once, reviews through the API for the product rating, ...).
ADD_REFUSED = {
    "axes.AccessAttempt",
    "axes.AccessFailureLog",
    "axes.AccessLog",
    "events.OutboxEvent",
    "events.ProcessedEvent",
    "inventory.StockItem",
    "inventory.StockMovement",
    "media.MediaAsset",
    "notifications.EmailDelivery",
    "notifications.Notification",
    "orders.Checkout",
    "orders.Order",
    "payments.LedgerEntry",
    "payments.Payment",
    "payments.Payout",
    "payments.ProviderEvent",
    "payments.Refund",
    "reviews.Comment",
    "reviews.Review",
    "users.ApiKey",
    "users.Session",
    "shops.ShopFollow",
    "webhooks.WebhookDelivery",
    "webhooks.WebhookEndpoint",
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
    # The demo has a card payment and ledger entries; a refund, a webhook event and a payout:
    refund_row()
    event_row()
    payout_row()
    delivery_row(endpoint=endpoint_row(shop=shop))
    _admin_sign_in_rows()
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)


def _admin_sign_in_rows() -> None:
    """What /admin/login/ records (django-axes): a failed attempt, its log, a sign-in."""
    number = AccessAttempt.objects.count()
    common = {"user_agent": "browser", "ip_address": f"203.0.113.{number % 250 + 1}"}
    common |= {"username": f"staff{number}@example.com", "http_accept": "*/*"}
    AccessAttempt.objects.create(
        **common, path_info="/admin/login/", get_data="", post_data="", failures_since_start=1
    )
    AccessFailureLog.objects.create(**common, path_info="/admin/login/")
    AccessLog.objects.create(**common, path_info="/admin/login/")


def _totp_device() -> None:
    TOTPDevice.objects.create(user=UserFactory(is_staff=True), name="phone", confirmed=True)


def _comment() -> Comment:
    product = ProductFactory()
    return comment_create(product_id=product.pk, author=UserFactory(), body="Any news?")


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
    "users.Session": lambda: session_tokens_issue(user=UserFactory()),
    "events.OutboxEvent": lambda: emit("shop.updated", "k", {"shop_id": "k", "fields": []}),
    "events.ProcessedEvent": lambda: ProcessedEvent.objects.create(
        consumer="c", event_id=NotificationFactory().event_id
    ),
    "users.User": UserFactory,
    "axes.AccessAttempt": _admin_sign_in_rows,
    "axes.AccessFailureLog": _admin_sign_in_rows,
    "axes.AccessLog": _admin_sign_in_rows,
    "otp_totp.TOTPDevice": _totp_device,
    "shops.Shop": ShopFactory,
    "users.Address": AddressFactory,
    "shops.ShopFollow": lambda: shop_follow(shop=ShopFactory(), user=UserFactory()),
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
    "payments.Payment": payment_row,
    "payments.Refund": refund_row,
    "payments.ProviderEvent": event_row,
    "payments.LedgerEntry": lambda: order_in(Order.Status.DELIVERED),
    "payments.Payout": payout_row,
    "reviews.Review": ReviewFactory,
    "reviews.Comment": _comment,
    "notifications.Notification": NotificationFactory,
    "notifications.EmailDelivery": _email_delivery,
    "notifications.Announcement": lambda: Announcement.objects.create(
        title="News", body="Body", created_by=UserFactory()
    ),
    "webhooks.WebhookEndpoint": endpoint_row,
    "webhooks.WebhookDelivery": delivery_row,
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
    "payments.Payment": ["refund_orders", "refund_flagged"],
    "payments.Refund": ["retry_now"],
    "reviews.Review": ["hide_reviews", "publish_reviews"],
    "reviews.Comment": ["remove_threads"],
    "shops.Shop": ["suspend", "activate"],
    "users.ApiKey": ["revoke"],
    "users.User": ["sign_out_everywhere"],
    "users.Session": ["end_sessions"],
    "notifications.Announcement": ["send"],
    "events.OutboxEvent": ["republish"],
    "inventory.StockItem": ["restock"],
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
            if isinstance(field, SchemaField):  # one input per key, as the browser posts them
                groups = field.widget.get_context(form.add_prefix(name), value, {})["groups"]
                data.update({item.name: item.value for group in groups for item in group["inputs"]})
                continue
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


def test_sessions_cannot_be_deleted_or_edited(superuser_client):
    entry = Session.objects.filter(ended_at__isnull=False).order_by("pk").first()
    assert entry is not None
    before = Session.objects.filter(pk=entry.pk).values().get()
    assert superuser_client.get(_url(Session, "delete", entry.pk)).status_code == 403
    response = superuser_client.post(_url(Session, "change", entry.pk), {"ended_reason": ""})
    assert response.status_code == 403
    assert Session.objects.filter(pk=entry.pk).values().get() == before


# --- The dashboard (the admin's index)


def test_dashboard_is_the_index_with_the_demo_figures(superuser_client):
    from apps.inventory.selectors import inventory_rows
    from apps.reviews.models import Review

    today = timezone.localdate()
    sales = Order.objects.filter(created_at__date=today).exclude(
        status__in=[Order.Status.CANCELLED, Order.Status.REFUNDED]
    )
    assert sales.exists(), "the demo has orders placed today"

    response = superuser_client.get(reverse("admin:index"))

    assert response.status_code == 200
    dashboard = response.context["dashboard"]
    assert dashboard.today.orders == sales.count()
    assert dashboard.today.revenue == sum(order.total for order in sales)
    waiting = {row.status: row.count for row in dashboard.waiting}
    for status in ("pending", "confirmed", "shipped"):
        assert waiting[status] == Order.objects.filter(status=status).count()
    low = inventory_rows().filter(is_active=True, available__lte=F("low_stock_threshold"))
    assert dashboard.low_stock_count == low.exclude(product__status="archived").count()
    newest = Review.objects.filter(status="published").order_by("-created_at", "-id")[:10]
    assert [review.pk for review in dashboard.reviews] == [review.pk for review in newest]
    page = response.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="sales-chart"' in page
    assert page.count("<rect ") == 30  # one bar per day
    assert f'<div class="figure" id="today-orders">{sales.count()}</div>' in page
    assert response.context["operations"].dead_letters is not None  # the broker answered
    # The app list is still there, below the dashboard.
    assert response.context["app_list"]


def test_dashboard_shows_unknown_dead_letters_when_the_broker_does_not_answer(
    superuser_client, monkeypatch
):
    """A broker that accepts connections and never answers (a hung RabbitMQ): the page still
    loads, with "unknown" for the dead letters, instead of waiting for the broker."""
    import socket

    from config.celery import app

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    monkeypatch.setitem(
        app.conf, "broker_url", f"amqp://guest:guest@127.0.0.1:{silent.getsockname()[1]}//"
    )
    try:
        response = superuser_client.get(reverse("admin:index"))
    finally:
        silent.close()

    assert response.status_code == 200
    assert response.context["operations"].dead_letters is None
    assert '<div class="figure" id="dead-letters">unknown</div>' in response.content.decode()


def test_dashboard_panels_follow_the_view_permissions(seeded):
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)

    bare = client.get(reverse("admin:index")).content.decode()
    staff.user_permissions.add(Permission.objects.get(codename="view_stockitem"))
    staff = User.objects.get(pk=staff.pk)  # permissions are cached on the instance
    client.force_login(staff)
    stock_only = client.get(reverse("admin:index")).content.decode()

    assert 'id="dashboard"' not in bare
    assert 'id="dashboard-low-stock"' in stock_only
    assert 'id="dashboard-sales"' not in stock_only
    assert 'id="dashboard-operations"' not in stock_only
    assert 'id="dashboard-reviews"' not in stock_only


# --- Branding, captions and plurals


def test_the_site_is_branded_and_view_site_opens_the_storefront(superuser_client, settings):
    page = superuser_client.get(reverse("admin:index")).content.decode()

    assert f"{settings.STORE_NAME} administration" in page
    assert f'<a href="{settings.FRONTEND_URL}">View site</a>' in page


def test_plurals_read_as_english():
    plurals = {model._meta.label: str(model._meta.verbose_name_plural) for model in REGISTRY}

    assert plurals["users.Address"] == "addresses"
    assert plurals["notifications.EmailDelivery"] == "email deliveries"
    assert plurals["catalog.Category"] == "categories"
    assert plurals["users.ApiKey"] == "API keys"


def test_no_page_shows_a_raw_object_caption(superuser_client):
    """Every change page of the demo rows (and their inline rows) is captioned by a name, a SKU
    or a number: never Django's `Model object (uuid)`."""
    for model in REGISTRY:
        obj = model._default_manager.order_by("pk").first()
        page = superuser_client.get(_url(model, "change", obj.pk)).content.decode()
        assert " object (" not in page, model._meta.label


def test_titles_name_the_sku_and_the_order_number(superuser_client):
    from apps.inventory.models import StockItem

    item = StockItem.objects.select_related("variant").order_by("pk").first()
    order = Order.objects.order_by("pk").first()

    stock_page = superuser_client.get(_url(StockItem, "change", item.pk)).content.decode()
    order_page = superuser_client.get(_url(Order, "change", order.pk)).content.decode()

    assert f"<h2>{item.variant.sku}</h2>" in stock_page
    assert f"<h2>{order.number}</h2>" in order_page


# --- Stock through stock_adjust


def _stock_item(**filters: Any) -> Any:
    from apps.inventory.models import StockItem

    item = StockItem.objects.filter(**filters).select_related("variant").order_by("pk").first()
    assert item is not None
    return item


def test_stock_item_page_adjusts_through_the_service(superuser_client):
    from apps.inventory.models import StockItem, StockMovement

    item = _stock_item(on_hand__gt=0)
    staff = User.objects.get(email="admin@example.com")
    events = len(_events("stock.adjusted"))  # the demo's own
    change = superuser_client.get(_url(StockItem, "change", item.pk)).content.decode()
    adjust_url = _url(StockItem, "adjust", item.pk)
    assert f'href="{adjust_url}"' in change

    page = superuser_client.get(adjust_url)
    response = superuser_client.post(
        adjust_url, {"delta": "12", "reason": "restock", "note": "supplier delivery"}
    )

    assert page.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == _url(StockItem, "change", item.pk)
    after = StockItem.objects.get(pk=item.pk)
    assert (after.on_hand, after.reserved) == (item.on_hand + 12, item.reserved)
    movement = StockMovement.objects.filter(stock_item=item).order_by("-created_at").first()
    assert (movement.kind, movement.quantity, movement.note, movement.actor) == (
        "restock",
        12,
        "supplier delivery",
        staff,
    )
    assert movement.on_hand_after == item.on_hand + 12
    (event,) = _events("stock.adjusted")[events:]
    assert (event["sku"], event["delta"], event["reason"], event["on_hand"]) == (
        item.variant.sku,
        12,
        "restock",
        item.on_hand + 12,
    )


def test_a_correction_below_reserved_is_refused_on_the_form(superuser_client):
    from apps.inventory.models import StockItem, StockMovement

    item = _stock_item(reserved__gt=0)
    movements = StockMovement.objects.count()
    events = len(_events("stock.adjusted"))
    too_many = -(item.on_hand - item.reserved + 1)

    response = superuser_client.post(
        _url(StockItem, "adjust", item.pk),
        {"delta": str(too_many), "reason": "correction", "note": "count"},
    )

    assert response.status_code == 200  # the form again, the input kept
    form = response.context["form"]
    assert form.errors == {
        "delta": [
            f"Removing {-too_many} would leave {item.on_hand + too_many} on hand, below the "
            f"{item.reserved} reserved."
        ]
    }
    assert form["delta"].value() == str(too_many)
    assert StockItem.objects.filter(pk=item.pk).values_list("on_hand", flat=True).get() == (
        item.on_hand
    )
    assert StockMovement.objects.count() == movements
    assert len(_events("stock.adjusted")) == events


def test_a_restock_with_a_negative_delta_is_refused(superuser_client):
    from apps.inventory.models import StockItem

    item = _stock_item()

    response = superuser_client.post(
        _url(StockItem, "adjust", item.pk), {"delta": "-2", "reason": "restock"}
    )

    assert response.context["form"].errors == {"delta": ["A restock must have a positive delta."]}
    assert StockItem.objects.get(pk=item.pk).on_hand == item.on_hand


def test_view_only_staff_cannot_adjust_stock(seeded):
    from apps.inventory.models import StockItem

    item = _stock_item()
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_stockitem"))
    client = Client()
    client.force_login(staff)

    assert client.get(_url(StockItem, "adjust", item.pk)).status_code == 403
    response = client.post(_url(StockItem, "adjust", item.pk), {"delta": "5", "reason": "restock"})
    assert response.status_code == 403
    assert StockItem.objects.get(pk=item.pk).on_hand == item.on_hand


def test_bulk_restock_from_the_changelist(superuser_client):
    from apps.inventory.models import StockItem, StockMovement

    items = list(StockItem.objects.order_by("pk")[:3])
    events = len(_events("stock.adjusted"))
    changelist = _url(StockItem, "changelist")
    selected = {"action": "restock", "_selected_action": [item.pk for item in items]}

    asked = superuser_client.post(changelist, selected)
    done = superuser_client.post(changelist, {**selected, "apply": "yes", "quantity": "20"})

    assert asked.status_code == 200
    assert "quantity" in asked.context["form"].fields
    assert done.status_code == 302
    for item in items:
        assert StockItem.objects.get(pk=item.pk).on_hand == item.on_hand + 20
        latest = StockMovement.objects.filter(stock_item=item).order_by("-created_at").first()
        assert (latest.kind, latest.quantity) == ("restock", 20)
    assert len(_events("stock.adjusted")) == events + 3


def test_bulk_restock_asks_again_for_a_bad_quantity(superuser_client):
    from apps.inventory.models import StockItem, StockMovement

    item = _stock_item()
    movements = StockMovement.objects.count()

    response = superuser_client.post(
        _url(StockItem, "changelist"),
        {"action": "restock", "_selected_action": [item.pk], "apply": "yes", "quantity": "0"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "quantity": ["Ensure this value is greater than or equal to 1."]
    }
    assert StockMovement.objects.count() == movements


# --- Orders: the ship page, the address


def _ship(client: Client, orders: list[Order], numbers: dict[Any, str]) -> Any:
    data: dict[str, Any] = {
        "action": "ship",
        "apply": "ship",
        "_selected_action": [order.pk for order in orders],
    }
    data.update({f"tracking_number_{pk}": number for pk, number in numbers.items()})
    return client.post(_url(Order, "changelist"), data)


def test_the_ship_page_says_tracking_numbers_are_optional_and_ships_without_one(
    superuser_client,
):
    first, second = (order_in(Order.Status.CONFIRMED) for _ in range(2))

    page = superuser_client.post(
        _url(Order, "changelist"), {"action": "ship", "_selected_action": [first.pk, second.pk]}
    )
    response = _ship(superuser_client, [first, second], {first.pk: "TRK-77", second.pk: ""})

    text = page.content.decode()
    assert "It is optional" in text
    assert "refused" not in text
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.tracking_number) == ("shipped", "TRK-77")
    assert (second.status, second.tracking_number) == ("shipped", "")


def test_shipping_an_order_that_is_not_confirmed_is_refused(superuser_client):
    pending = order_in(Order.Status.PENDING)

    response = _ship(superuser_client, [pending], {pending.pk: "TRK-1"})

    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.tracking_number) == ("pending", "")


def test_the_order_page_shows_the_address_as_an_address(superuser_client):
    order = Order.objects.order_by("pk").first()
    address = order.shipping_address

    page = superuser_client.get(_url(Order, "change", order.pk)).content.decode()

    assert '<address class="shipping-address">' in page
    assert f"{address['name']}<br>{address['line1']}<br>" in page
    assert f"{address['postal_code']} {address['city']}" in page
    assert "&quot;line1&quot;" not in page  # not the JSON


# --- Autocomplete


@pytest.mark.parametrize(
    ("label", "fields"),
    [
        ("catalog.Product", ["shop", "category"]),
        ("catalog.ProductVariant", ["product"]),
        ("catalog.Category", ["shop"]),
        ("discounts.Discount", ["shop", "products"]),
    ],
)
def test_related_fields_are_autocompleted(superuser_client, label, fields):
    model = _model(label)
    page = superuser_client.get(_url(model, "add"))
    form = page.context["adminform"].form
    for name in fields:
        assert type(form.fields[name].widget.widget).__name__ in (
            "AutocompleteSelect",
            "AutocompleteSelectMultiple",
        ), name
        related = model._meta.get_field(name).related_model
        answer = superuser_client.get(
            reverse("admin:autocomplete"),
            {
                "app_label": model._meta.app_label,
                "model_name": model._meta.model_name,
                "field_name": name,
                "term": "",
            },
        )
        assert answer.status_code == 200, name
        assert len(answer.json()["results"]) == min(related._default_manager.count(), 20), name


# --- Import and export (django-import-export, through the services)

PRODUCTS_CSV = (
    "handle,shop,type,name,sku,price,stock,attr.brand,option.size\n"
    "tee,northwind-electronics,clothing,Admin tee,ADM-TEE-S,15.00,4,Loom,S\n"
    "tee,northwind-electronics,,,ADM-TEE-M,15.00,6,,M\n"
)


def _upload(client: Client, model: type[Model], text: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    page = client.get(_url(model, "import"))
    formats = {label: value for value, label in page.context["form"].fields["format"].choices}
    return client.post(
        _url(model, "import"),
        {
            "format": formats["csv"],
            "import_file": SimpleUploadedFile("rows.csv", text.encode(), "text/csv"),
        },
    )


def test_product_import_dry_run_then_confirm(superuser_client):
    from apps.catalog.models import Product

    dry = _upload(superuser_client, Product, PRODUCTS_CSV)

    assert dry.status_code == 200
    assert dry.context["result"].totals["new"] == 2
    assert not Product.objects.filter(name="Admin tee").exists()  # a dry run only
    confirm = dry.context["confirm_form"].initial
    done = superuser_client.post(_url(Product, "process_import"), confirm)

    assert done.status_code == 302
    tee = Product.objects.get(name="Admin tee")
    assert sorted(tee.variants.values_list("sku", "stock__on_hand")) == [
        ("ADM-TEE-M", 6),
        ("ADM-TEE-S", 4),
    ]


def test_product_import_with_errors_reports_rows_and_columns_and_offers_no_confirm(
    superuser_client,
):
    from apps.catalog.models import Product, ProductVariant

    variants = ProductVariant.objects.count()
    bad = PRODUCTS_CSV.replace("15.00,6", "cheap,6").replace("Loom,S", "Loom,HUGE")

    dry = _upload(superuser_client, Product, bad)

    assert dry.status_code == 200
    result = dry.context["result"]
    assert [(row.number, row.field_specific_errors) for row in result.invalid_rows] == [
        (1, {"option.size": ["Must be one of: XXS, XS, S, M, L, XL, XXL, XXXL, one-size."]}),
        (2, {"price": ["Must be an amount such as 19.99."]}),
    ]
    assert dry.context.get("confirm_form") is None
    assert ProductVariant.objects.count() == variants


def test_stock_level_import_sets_counted_quantities(superuser_client):
    from apps.inventory.models import StockItem, StockMovement

    item = _stock_item(reserved=0, on_hand__gt=2)
    text = f"sku,on_hand,low_stock_threshold\n{item.variant.sku},2,1\n"

    dry = _upload(superuser_client, StockItem, text)
    done = superuser_client.post(
        _url(StockItem, "process_import"), dry.context["confirm_form"].initial
    )

    assert done.status_code == 302
    after = StockItem.objects.get(pk=item.pk)
    assert (after.on_hand, after.low_stock_threshold) == (2, 1)
    latest = StockMovement.objects.filter(stock_item=item).order_by("-created_at").first()
    assert (latest.kind, latest.quantity, latest.note) == (
        "correction",
        2 - item.on_hand,
        "stock level import",
    )


def test_order_export_matches_the_database(superuser_client):
    import csv

    from apps.orders.models import OrderLine

    page = superuser_client.get(_url(Order, "export"))
    form = page.context["form"]
    formats = {label: value for value, label in form.fields["format"].choices}
    data = {"format": formats["csv"], "resource": "0"}
    data.update(
        {
            name: "on"
            for name, field in form.fields.items()
            if type(field).__name__ == "BooleanField"  # the columns, all selected
        }
    )

    response = superuser_client.post(_url(Order, "export"), data)

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    lines = OrderLine.objects.select_related("order__shop", "order__buyer")
    assert len(rows) == lines.count()
    by_key = {(row["order"], row["sku"]): row for row in rows}
    for line in lines:
        row = by_key[(line.order.number, line.sku)]
        assert row["status"] == line.order.status
        assert row["shop"] == line.order.shop.slug
        assert row["buyer"] == line.order.buyer.email
        assert (row["quantity"], row["unit_price"], row["line_total"]) == (
            str(line.quantity),
            str(line.unit_price),
            str(line.line_total),
        )
        assert row["order_total"] == str(line.order.total)
        assert row["placed_at"] == line.order.created_at.isoformat()


# --- Structured attributes and options (apps.catalog.widgets)


@pytest.mark.parametrize("type_", ["electronics", "clothing", "furniture", "motorbike"])
def test_attribute_and_option_inputs_round_trip_unchanged(superuser_client, type_):
    """The demo product of each type, its change page posted back as drawn: 302, and its
    attributes and variant options are what they were (numbers still numbers)."""
    from apps.catalog.models import Product

    product = Product.objects.filter(type=type_, status="published").order_by("name").first()
    before = (product.attributes, sorted(product.variants.values_list("sku", "options")))
    url = _url(Product, "change", product.pk)
    page = superuser_client.get(url)
    html = page.content.decode()
    for name in product.attributes:
        assert f'name="attributes.{type_}.{name}"' in html

    response = superuser_client.post(url, _post_data(page))

    assert response.status_code == 302, response.context and response.context["errors"]
    product.refresh_from_db()
    assert (product.attributes, sorted(product.variants.values_list("sku", "options"))) == before


def test_attribute_and_option_inputs_save_typed_values(superuser_client):
    from apps.catalog.models import Product

    bike = Product.objects.filter(type="motorbike").order_by("name").first()
    variant = bike.variants.order_by("position").first()
    url = _url(Product, "change", bike.pk)
    page = superuser_client.get(url)
    index = [
        form.instance.pk for form in page.context["inline_admin_formsets"][0].formset.forms
    ].index(variant.pk)

    response = superuser_client.post(
        url,
        _post_data(
            page,
            **{
                "attributes.motorbike.engine_cc": "750",
                f"variants-{index}-options.motorbike.color": "Racing green",
            },
        ),
    )

    assert response.status_code == 302
    bike.refresh_from_db()
    variant.refresh_from_db()
    assert bike.attributes["engine_cc"] == 750  # an integer, as the schema declares
    assert variant.options["color"] == "Racing green"


def test_a_variant_page_draws_its_product_type_options(superuser_client):
    from apps.catalog.models import ProductVariant

    variant = ProductVariant.objects.filter(product__type="clothing").order_by("sku").first()
    url = _url(ProductVariant, "change", variant.pk)
    page = superuser_client.get(url)
    html = page.content.decode()

    assert '<select name="options.clothing.size"' in html
    assert 'name="options.electronics.' not in html
    assert superuser_client.post(url, _post_data(page)).status_code == 302
    assert ProductVariant.objects.get(pk=variant.pk).options == variant.options
