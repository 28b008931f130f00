import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from apps.users.models import ApiKey, User
from apps.users.services import api_key_create
from tests.shops.factories import ShopFactory
from tests.users.factories import AddressFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/user/",
        "/admin/users/user/?q=example",
        "/admin/users/user/add/",
        "/admin/users/address/",
        "/admin/users/apikey/?revoked_at__isempty=1",
    ],
)
def test_admin_pages_render(admin_client, path):
    AddressFactory()
    api_key_create(name="k")
    assert admin_client.get(path).status_code == 200


def test_admin_change_pages_render(admin_client):
    shop = ShopFactory()
    key, _ = api_key_create(name="k")
    for path in (
        f"/admin/users/user/{shop.owner.pk}/change/",
        f"/admin/users/apikey/{key.pk}/change/",
    ):
        assert admin_client.get(path).status_code == 200
    # the secret hash is shown read-only, never as an input
    page = admin_client.get(f"/admin/users/apikey/{key.pk}/change/").content.decode()
    assert 'name="hashed_secret"' not in page
    assert key.hashed_secret in page


def test_admin_adds_user_with_lowercased_email(admin_client):
    response = admin_client.post(
        "/admin/users/user/add/",
        {
            "email": "Mixed@Example.com",
            "name": "Mixed",
            "password1": "quartz-meadow-falcon-22",
            "password2": "quartz-meadow-falcon-22",
            "addresses-TOTAL_FORMS": "0",
            "addresses-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(email="mixed@example.com").check_password("quartz-meadow-falcon-22")


def test_admin_revoke_api_keys_action(admin_client):
    key, _ = api_key_create(name="k")
    response = admin_client.post(
        "/admin/users/apikey/", {"action": "revoke", "_selected_action": [str(key.pk)]}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert admin_client.get("/admin/users/apikey/add/").status_code == 403
    assert ApiKey.objects.count() == 1


def test_admin_sign_out_everywhere_action(admin_client):
    user = UserFactory()
    RefreshToken.for_user(user)
    response = admin_client.post(
        "/admin/users/user/",
        {"action": "sign_out_everywhere", "_selected_action": [str(user.pk)]},
    )
    assert response.status_code == 302
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    assert not OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).exists()
