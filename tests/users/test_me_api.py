import pytest
from rest_framework.test import APIClient

from apps.users.models import Address, Session
from tests.assertions import assert_problem, pointers
from tests.conftest import auth_client
from tests.shops.factories import ShopFactory
from tests.users.factories import DEFAULT_PASSWORD, AddressFactory, address_payload

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "velvet-harbour-compass-37"


def test_me_returns_profile(user, user_client):
    response = user_client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.pk),
        "email": user.email,
        "name": user.name,
        "phone": "",
        "roles": ["customer"],
        "shop": None,
        "email_verified": False,
    }


def test_me_roles_for_staff_seller():
    shop = ShopFactory(owner__is_staff=True)
    body = auth_client(shop.owner).get("/api/v1/me").json()
    assert body["roles"] == ["customer", "seller", "staff"]
    assert body["shop"] == {"id": str(shop.pk), "slug": shop.slug, "name": shop.name}


def test_me_requires_authentication(api_client):
    response = api_client.get("/api/v1/me")
    assert_problem(response, 401, "auth.not_authenticated")
    assert response["WWW-Authenticate"]


def test_me_rejects_garbage_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    response = api_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_me_patch_updates_name_and_phone(user, user_client):
    response = user_client.patch("/api/v1/me", {"name": "Ren", "phone": "+84 90 123 4567"})
    assert response.status_code == 200
    assert response.json()["name"] == "Ren"
    assert response.json()["phone"] == "+84 90 123 4567"
    user.refresh_from_db()
    assert (user.name, user.phone) == ("Ren", "+84 90 123 4567")


def test_me_patch_ignores_mass_assignment(user, user_client):
    email = user.email
    response = user_client.patch(
        "/api/v1/me",
        {
            "name": "Still me",
            "email": "hijack@example.com",
            "is_staff": True,
            "is_superuser": True,
            "is_active": False,
            "roles": ["staff", "seller"],
            "id": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == email
    assert body["roles"] == ["customer"]
    assert body["id"] == str(user.pk)
    user.refresh_from_db()
    assert user.email == email
    assert user.name == "Still me"
    assert not user.is_staff
    assert not user.is_superuser
    assert user.is_active


def test_me_patch_bad_phone_is_400_and_changes_nothing(user, user_client):
    response = user_client.patch("/api/v1/me", {"name": "Changed", "phone": "call me maybe"})
    body = assert_problem(response, 400, "invalid")
    assert pointers(body) == {"/phone"}
    assert body["errors"][0]["code"] == "invalid_phone"
    name = user.name
    user.refresh_from_db()
    assert user.name == name


@pytest.mark.parametrize("name", ["Ann\nLee", "Ann\rLee", "Ann\x1bLee", "Ann\u2029Lee"])
def test_me_patch_refuses_a_name_that_is_not_one_line(user, user_client, name):
    response = user_client.patch("/api/v1/me", {"name": name}, format="json")
    body = assert_problem(response, 400, "invalid")
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [("/name", "control_characters")]
    user.refresh_from_db()
    assert user.name != name


def test_me_patch_requires_authentication(api_client):
    assert_problem(api_client.patch("/api/v1/me", {"name": "x"}), 401, "auth.not_authenticated")


# --- password change


def test_password_change_revokes_sessions(user):
    anonymous = APIClient()
    session = anonymous.post(
        "/api/v1/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}
    ).json()["refresh"]
    response = auth_client(user).post(
        "/api/v1/me/password", {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 204
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert anonymous.post("/api/v1/auth/refresh", {"refresh": session}).status_code == 401
    # the login's session ended; the caller's (auth_client's) goes on
    assert sorted(Session.objects.filter(user=user).values_list("ended_reason", flat=True)) == [
        "",
        "password_change",
    ]
    assert (
        anonymous.post(
            "/api/v1/auth/login", {"email": user.email, "password": NEW_PASSWORD}
        ).status_code
        == 200
    )


def test_password_change_wrong_old_password(user, user_client):
    response = user_client.post(
        "/api/v1/me/password", {"old_password": "nope", "new_password": NEW_PASSWORD}
    )
    body = assert_problem(response, 400, "auth.wrong_password")
    assert pointers(body) == {"/old_password"}
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_weak_new_password(user, user_client):
    response = user_client.post(
        "/api/v1/me/password", {"old_password": DEFAULT_PASSWORD, "new_password": "abc"}
    )
    body = assert_problem(response, 400, "invalid")
    assert pointers(body) == {"/new_password"}
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_missing_fields(user_client):
    body = assert_problem(user_client.post("/api/v1/me/password", {}), 400, "invalid")
    assert pointers(body) == {"/old_password", "/new_password"}


def test_password_change_requires_authentication(api_client):
    response = api_client.post(
        "/api/v1/me/password", {"old_password": "x", "new_password": NEW_PASSWORD}
    )
    assert_problem(response, 401, "auth.not_authenticated")


# --- addresses


def test_address_create_and_list(user, user_client):
    response = user_client.post("/api/v1/me/addresses", address_payload(country="vn"))
    assert response.status_code == 201
    body = response.json()
    assert body["country"] == "VN"
    assert body["is_default"] is True  # the first address becomes the default
    address = Address.objects.get(pk=body["id"])
    assert address.user == user

    second = user_client.post("/api/v1/me/addresses", address_payload(name="Work")).json()
    assert second["is_default"] is False

    listing = user_client.get("/api/v1/me/addresses").json()
    assert listing["count"] == 2
    assert [a["id"] for a in listing["results"]] == [body["id"], second["id"]]


def test_address_new_default_unsets_the_old_one(user, user_client):
    first = AddressFactory(user=user, is_default=True)
    response = user_client.post("/api/v1/me/addresses", address_payload(is_default=True))
    assert response.status_code == 201
    first.refresh_from_db()
    assert not first.is_default
    assert Address.objects.filter(user=user, is_default=True).count() == 1


@pytest.mark.parametrize(
    ("overrides", "pointer", "code"),
    [
        ({"country": "USA"}, "/country", "max_length"),
        ({"country": "XX"}, "/country", "invalid_country"),
        ({"country": "1A"}, "/country", "invalid_country"),
        ({"phone": "not a phone"}, "/phone", "invalid_phone"),
        ({"phone": "+1 23"}, "/phone", "invalid_phone"),
        ({"name": ""}, "/name", "blank"),
        ({"line1": None}, "/line1", "null"),
        ({"postal_code": "x" * 21}, "/postal_code", "max_length"),
        ({"name": "Ann\r\nBcc: x@example.com"}, "/name", "control_characters"),
        ({"line1": "1 Main St\nApt 2"}, "/line1", "control_characters"),
        ({"line2": "Apt\t2"}, "/line2", "control_characters"),
        ({"city": "Spring\x01field"}, "/city", "control_characters"),
        ({"state": "O\x85R"}, "/state", "control_characters"),
        ({"postal_code": "12\n345"}, "/postal_code", "control_characters"),
    ],
)
def test_address_validation(user, user_client, overrides, pointer, code):
    response = user_client.post("/api/v1/me/addresses", address_payload(**overrides))
    body = assert_problem(response, 400, "invalid")
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [(pointer, code)]
    assert not Address.objects.exists()


def test_address_required_fields(user_client):
    body = assert_problem(user_client.post("/api/v1/me/addresses", {}), 400, "invalid")
    assert pointers(body) == {
        "/name",
        "/line1",
        "/city",
        "/postal_code",
        "/country",
        "/phone",
    }


def test_address_patch(user, user_client):
    address = AddressFactory(user=user, city="Old")
    response = user_client.patch(
        f"/api/v1/me/addresses/{address.pk}", {"city": "Hanoi", "country": "vn", "user": "x"}
    )
    assert response.status_code == 200
    assert response.json()["city"] == "Hanoi"
    address.refresh_from_db()
    assert (address.city, address.country, address.user_id) == ("Hanoi", "VN", user.pk)


def test_address_patch_make_default(user, user_client):
    old = AddressFactory(user=user, is_default=True)
    new = AddressFactory(user=user, is_default=False)
    response = user_client.patch(f"/api/v1/me/addresses/{new.pk}", {"is_default": True})
    assert response.status_code == 200
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.is_default, new.is_default) == (False, True)


def test_address_patch_invalid_changes_nothing(user, user_client):
    address = AddressFactory(user=user)
    response = user_client.patch(f"/api/v1/me/addresses/{address.pk}", {"country": "ZZ"})
    assert_problem(response, 400, "invalid")
    address.refresh_from_db()
    assert address.country == "US"


def test_address_delete(user, user_client):
    address = AddressFactory(user=user)
    response = user_client.delete(f"/api/v1/me/addresses/{address.pk}")
    assert response.status_code == 204
    assert not Address.objects.filter(pk=address.pk).exists()


def test_other_users_address_is_404(user_client):
    theirs = AddressFactory(city="Theirs")
    assert_problem(
        user_client.patch(f"/api/v1/me/addresses/{theirs.pk}", {"city": "Mine"}),
        404,
        "address.not_found",
    )
    assert_problem(
        user_client.delete(f"/api/v1/me/addresses/{theirs.pk}"), 404, "address.not_found"
    )
    assert user_client.get("/api/v1/me/addresses").json()["count"] == 0
    theirs.refresh_from_db()
    assert theirs.city == "Theirs"


def test_addresses_require_authentication(api_client):
    address = AddressFactory()
    assert_problem(api_client.get("/api/v1/me/addresses"), 401, "auth.not_authenticated")
    assert_problem(
        api_client.post("/api/v1/me/addresses", address_payload()), 401, "auth.not_authenticated"
    )
    assert_problem(
        api_client.delete(f"/api/v1/me/addresses/{address.pk}"), 401, "auth.not_authenticated"
    )
    assert Address.objects.count() == 1


def test_address_list_query_count_is_constant(user, user_client, django_assert_num_queries):
    AddressFactory(user=user)
    # caller + count + page
    with django_assert_num_queries(3):
        assert user_client.get("/api/v1/me/addresses").json()["count"] == 1
    AddressFactory.create_batch(15, user=user, country="FR")
    AddressFactory(user=user, is_default=True, line2="Flat 2", state="IDF")
    AddressFactory.create_batch(3)  # someone else's
    with django_assert_num_queries(3):
        body = user_client.get("/api/v1/me/addresses").json()
    assert body["count"] == 17
    assert len(body["results"]) == 17
    assert body["results"][0]["is_default"] is True
