"""The public read caches: list pages and product details cached as rendered bytes under version
keys, served by the DRF views with HTTP caching headers (ETag, 304, Cache-Control). A write is
visible on the next read; an anonymous cache hit is answered exactly as any other request."""

import pytest
from django.core.cache import cache

from apps.catalog import cache as catalog_cache
from apps.catalog.models import Category, Product
from apps.catalog.services import product_update
from apps.core.throttling import AnonBurstThrottle
from apps.inventory.services import StockLine, stock_adjust, stock_reserve
from apps.reviews.services import review_create
from tests.catalog.factories import category, make_product
from tests.conftest import auth_client, clear_own_cache
from tests.media.factories import MediaAssetFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products"
PROBLEM = "application/problem+json"


def _first(api_client, url=LIST, **extra):
    response = api_client.get(url, **extra)
    assert response.status_code == 200, response.content
    return response.json()["results"][0]


# --- list pages: hit, miss, ETag ----------


def test_list_page_is_cached_as_bytes_and_answers_conditional_requests(
    api_client, shop, django_assert_num_queries, django_assert_max_num_queries
):
    make_product(shop, name="Lamp", stock=1)
    with django_assert_max_num_queries(4):
        first = api_client.get(LIST)
    with django_assert_num_queries(0):
        second = api_client.get(LIST)
    assert second.content == first.content
    assert second["Content-Type"] == "application/json"
    assert second["ETag"] == first["ETag"]
    assert first["ETag"].startswith('"')
    assert second["Cache-Control"] == "public, max-age=0, s-maxage=5"
    not_modified = api_client.get(LIST, HTTP_IF_NONE_MATCH=first["ETag"])
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == first["ETag"]
    assert api_client.get(LIST, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_each_url_is_a_page_of_its_own_and_links_follow_the_host(api_client, shop):
    for n in range(3):
        make_product(shop, name=f"p{n}", stock=1)
    page_one = api_client.get(LIST, {"page_size": 2}).json()
    page_two = api_client.get(LIST, {"page_size": 2, "page": 2}).json()
    assert [p["name"] for p in page_one["results"]] == ["p2", "p1"]
    assert [p["name"] for p in page_two["results"]] == ["p0"]
    assert page_one["next"] == "http://testserver/api/v1/products?page=2&page_size=2"
    # Same query, other host: the links name that host, so it is another cache entry.
    other = api_client.get(LIST, {"page_size": 2}, HTTP_HOST="localhost").json()
    assert other["next"] == "http://localhost/api/v1/products?page=2&page_size=2"


def test_unknown_query_parameters_share_the_page_of_the_url_without_them(
    api_client, shop, django_assert_num_queries
):
    """Every made-up parameter value (`?utm=1`, `?x=<random>`) made a cache entry of its own; the
    key and the links now keep only the documented filters, ordering, page, page_size and attr.*,
    each once and in one order."""
    for n in range(3):
        make_product(shop, name=f"p{n}", stock=1, attributes={"manufacturer": "Acme"})
    first = api_client.get(LIST, {"page_size": 2, "attr.manufacturer": "Acme", "utm": "a"})
    stored = [key for key in cache.keys("*") if ":page:" in key]

    with django_assert_num_queries(0):
        others = [
            api_client.get(f"{LIST}?attr.manufacturer=Acme&page_size=2&x=1"),
            api_client.get(f"{LIST}?page_size=2&x=2&attr.manufacturer=Acme"),
            api_client.get(f"{LIST}?page_size=9&page_size=2&attr.manufacturer=Acme"),
            api_client.get(f"{LIST}?format_hint=z&attr.manufacturer=Acme&page_size=2"),
        ]

    # all four answered from the one cached page: no query, no new entry
    assert {r.content for r in others} == {first.content}
    assert [key for key in cache.keys("*") if ":page:" in key] == stored
    assert (
        first.json()["next"]
        == "http://testserver/api/v1/products?attr.manufacturer=Acme&page=2&page_size=2"
    )
    page_two = api_client.get(first.json()["next"] + "&junk=1").json()
    assert [p["name"] for p in page_two["results"]] == ["p0"]
    assert page_two["previous"] == (
        "http://testserver/api/v1/products?attr.manufacturer=Acme&page_size=2"
    )
    # a documented filter still makes a page of its own
    assert api_client.get(LIST, {"page_size": 2, "search": "p1"}).content != first.content


def test_every_value_of_the_repeatable_attr_parameter_is_part_of_the_key(api_client, shop):
    make_product(shop, name="Black", stock=1, attributes={"manufacturer": "Acme", "color": "black"})
    make_product(shop, name="White", stock=1, attributes={"manufacturer": "Acme", "color": "white"})

    def names(query):
        return [p["name"] for p in api_client.get(f"{LIST}?{query}").json()["results"]]

    assert names("attr=color:black") == ["Black"]
    assert names("attr=color:white") == ["White"]
    assert names("attr=manufacturer:Acme&attr=color:white") == ["White"]
    assert names("attr=manufacturer:Acme&attr=color:black&utm=x") == ["Black"]


def test_errors_are_not_cached(api_client, shop):
    make_product(shop, stock=1)
    assert api_client.get(LIST, {"page": 9}).status_code == 404
    assert api_client.get(LIST, {"page": 9})["Content-Type"] == PROBLEM
    assert api_client.get(LIST, {"min_price": "x"}).status_code == 400


# --- invalidation: every kind of write shows on the next read ----------


def test_product_writes_show_in_the_cached_list(api_client, seller_client, shop):
    product = make_product(shop, name="Old", type="furniture", stock=1)
    assert _first(api_client)["name"] == "Old"
    seller_client.patch(f"{LIST}/{product.pk}", {"name": "New"}, format="json")
    assert _first(api_client)["name"] == "New"
    seller_client.post(f"{LIST}/{product.pk}/unpublish")
    assert api_client.get(LIST).json()["count"] == 0
    seller_client.post(f"{LIST}/{product.pk}/publish")
    assert api_client.get(LIST).json()["count"] == 1
    seller_client.delete(f"{LIST}/{product.pk}")
    assert api_client.get(LIST).json()["count"] == 0


def test_new_publication_shows_in_the_cached_list(api_client, shop):
    make_product(shop, name="First", stock=1)
    assert api_client.get(LIST).json()["count"] == 1
    make_product(shop, name="Second", stock=1)
    assert [p["name"] for p in api_client.get(LIST).json()["results"]] == ["Second", "First"]


def test_variant_price_change_shows_in_the_cached_list(api_client, seller_client, shop):
    product = make_product(shop, price="10.00", stock=1)
    assert _first(api_client)["price"] == "10.00"
    variant = product.variants.get()
    seller_client.patch(f"{LIST}/{product.pk}/variants/{variant.pk}", {"price": "7.50"})
    assert _first(api_client)["price"] == "7.50"


def test_stock_changes_show_in_the_cached_list(
    api_client, shop, django_capture_on_commit_callbacks
):
    product = make_product(shop, stock=1)
    variant_id = product.variants.get().pk
    assert _first(api_client)["in_stock"] is True
    with django_capture_on_commit_callbacks(execute=True):
        stock_reserve(lines=[StockLine(variant_id, 1)])
    assert _first(api_client)["in_stock"] is False
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant_id=variant_id, delta=2, reason="restock", actor=shop.owner)
    assert _first(api_client)["in_stock"] is True


def test_image_change_shows_in_the_cached_list(api_client, shop):
    product = make_product(shop, stock=1)
    assert _first(api_client)["image"] is None
    asset = MediaAssetFactory(owner=shop.owner)
    product_update(actor=shop.owner, product=product, data={"image_ids": [asset.pk]})
    assert _first(api_client)["image"]["asset_id"] == str(asset.pk)


def test_rating_change_shows_in_the_cached_list(api_client, shop):
    product = make_product(shop, stock=1)
    assert _first(api_client)["rating_count"] == 0
    review_create(product_id=product.pk, author=UserFactory(), rating=4)
    listed = _first(api_client)
    assert (listed["rating_count"], listed["rating_avg"]) == (1, "4.00")


def test_category_rename_shows_in_the_cached_list(api_client, shop):
    lamps = category("Lamps")
    make_product(shop, category=lamps, stock=1)
    assert _first(api_client)["category"]["name"] == "Lamps"
    Category.objects.filter(pk=lamps.pk).update(name="Lighting")
    catalog_cache.category_cache_bump()  # what the admin does after saving a category
    assert _first(api_client)["category"]["name"] == "Lighting"


def test_a_bump_without_lists_keeps_the_pages(
    api_client, shop, django_assert_num_queries, django_assert_max_num_queries
):
    """`product_cache_bump(id, lists=False)`: for stock changes a list cannot show."""
    product = make_product(shop, stock=5)
    api_client.get(LIST)
    api_client.get(f"{LIST}/{product.pk}")
    catalog_cache.product_cache_bump(product.pk, lists=False)
    with django_assert_num_queries(0):
        api_client.get(LIST)
    with django_assert_max_num_queries(3):
        api_client.get(f"{LIST}/{product.pk}")


def test_a_flushed_cache_never_revives_an_entry(
    api_client, shop, django_assert_num_queries, django_assert_max_num_queries
):
    """Once the versions are gone (evicted, Redis restarted, or this run's keys deleted as a flush
    would) the page is rebuilt, even for a change made without any bump."""
    product = make_product(shop, name="Before", stock=1)
    assert _first(api_client)["name"] == "Before"
    assert api_client.get(f"{LIST}/{product.pk}").json()["name"] == "Before"
    Product.objects.filter(pk=product.pk).update(name="After")
    clear_own_cache()
    assert _first(api_client)["name"] == "After"
    assert api_client.get(f"{LIST}/{product.pk}").json()["name"] == "After"


def test_entries_are_checked_against_another_process_bump(api_client, shop):
    """A write in another process only changes the version in the shared cache."""
    product = make_product(shop, name="Before", stock=1)
    assert _first(api_client)["name"] == "Before"
    Product.objects.filter(pk=product.pk).update(name="After")
    # Another process's bump: only the version in Redis changes.
    cache.set(catalog_cache._version_key(catalog_cache._LIST), 12345, timeout=None)
    assert _first(api_client)["name"] == "After"


# --- no leaks: drafts, sellers and staff ----------


def test_drafts_never_reach_the_public_cache(api_client, seller_client, staff_client, shop):
    make_product(shop, name="Public", stock=1)
    draft = make_product(shop, name="Draft", stock=1, publish=False)
    # The seller and staff look at the draft first: its detail entry is cached, privately.
    own = seller_client.get(f"{LIST}/{draft.pk}")
    assert own.status_code == 200
    assert own["Cache-Control"] == "private, no-cache"
    assert "Authorization" in own["Vary"]
    assert staff_client.get(f"{LIST}/{draft.pk}").status_code == 200
    # Lists are the published products for everyone, whoever filled the cache.
    assert [p["name"] for p in seller_client.get(LIST).json()["results"]] == ["Public"]
    assert [p["name"] for p in api_client.get(LIST).json()["results"]] == ["Public"]
    missing = api_client.get(f"{LIST}/{draft.pk}")
    assert missing.status_code == 404
    assert missing["Content-Type"] == PROBLEM
    other = auth_client(UserFactory()).get(f"{LIST}/{draft.pk}")
    assert other.status_code == 404


# --- anonymous cache hits are answered as any other request ----------


def test_anonymous_hits_answer_like_an_authenticated_read(api_client, user_client, shop):
    product = make_product(shop, name="Lamp", stock=1)
    paths = [f"{LIST}?page_size=5", f"{LIST}/{product.pk}"]
    authenticated = {path: user_client.get(path) for path in paths}  # fills the caches
    for path in paths:
        anonymous = api_client.get(path)
        assert anonymous.status_code == 200
        assert anonymous.content == authenticated[path].content
        for header in ("Content-Type", "ETag", "Cache-Control", "Allow", "X-Frame-Options"):
            assert anonymous[header] == authenticated[path][header], header
        assert anonymous.get("Vary") == authenticated[path].get("Vary")
        assert api_client.get(path, HTTP_IF_NONE_MATCH=anonymous["ETag"]).status_code == 304
    assert authenticated[paths[0]]["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_a_cached_product_still_goes_through_authentication_and_negotiation(api_client, shop):
    product = make_product(shop, stock=1)
    detail = f"{LIST}/{product.pk}"
    assert api_client.get(detail).status_code == 200  # cached now
    # A token, even a bad one, is judged: 401, not the cached public product.
    bad_token = api_client.get(detail, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert bad_token.status_code == 401
    assert bad_token["Content-Type"] == PROBLEM
    # Content negotiation: JSON only.
    assert api_client.get(detail, HTTP_ACCEPT="application/xml").status_code == 406
    assert api_client.get(detail, {"format": "xml"}).status_code == 404
    assert api_client.get(f"{detail}?%66ormat=xml").status_code == 404
    assert api_client.get(detail, HTTP_ACCEPT="text/html, application/json;q=0.9").status_code == (
        200
    )
    # By slug (from the cached entry).
    assert api_client.get(f"{LIST}/{product.slug}").status_code == 200
    assert api_client.get(detail, HTTP_ACCEPT="application/json").status_code == 200
    assert api_client.get(detail, HTTP_ACCEPT="*/*").status_code == 200


def test_cache_hits_keep_the_throttle(api_client, shop, monkeypatch):
    """Each anonymous request counts once, hit or not; the refusal is DRF's 429."""
    monkeypatch.setattr(AnonBurstThrottle, "rate", "3/min", raising=False)
    product = make_product(shop, stock=1)
    detail = f"{LIST}/{product.pk}"
    assert [api_client.get(detail).status_code for _ in range(3)] == [200, 200, 200]
    refused = api_client.get(detail)
    assert refused.status_code == 429
    assert refused["Content-Type"] == PROBLEM
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    assert api_client.get(LIST).status_code == 429  # the same anonymous budget
