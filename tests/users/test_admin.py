import pytest
from django.test import Client

from apps.users.models import ApiKey, Session, User
from apps.users.services.api_keys import api_key_create
from apps.users.services.sessions import session_tokens_issue
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
    bystander = UserFactory()
    for owner in (user, user, bystander):
        session_tokens_issue(user=owner)
    response = admin_client.post(
        "/admin/users/user/",
        {"action": "sign_out_everywhere", "_selected_action": [str(user.pk)]},
    )
    assert response.status_code == 302
    assert sorted(Session.objects.values_list("user_id", "ended_reason")) == sorted(
        [(user.pk, "staff"), (user.pk, "staff"), (bystander.pk, "")]
    )


def test_admin_sessions_are_read_only_and_ended_by_an_action(admin_client):
    user = UserFactory()
    tokens = session_tokens_issue(user=user)
    other = session_tokens_issue(user=user)
    ended, kept = Session.objects.order_by("created_at")
    assert admin_client.get("/admin/users/session/").status_code == 200
    assert admin_client.get(f"/admin/users/session/?q={user.email}").status_code == 200
    assert admin_client.get(f"/admin/users/session/{ended.pk}/change/").status_code == 200
    assert admin_client.get("/admin/users/session/add/").status_code == 403
    assert admin_client.post(f"/admin/users/session/{ended.pk}/delete/").status_code == 403
    # a POST to the change page saves nothing
    admin_client.post(f"/admin/users/session/{ended.pk}/change/", {"ended_reason": "logout"})
    assert Session.objects.get(pk=ended.pk).ended_at is None

    response = admin_client.post(
        "/admin/users/session/",
        {"action": "end_sessions", "_selected_action": [str(ended.pk)]},
    )

    assert response.status_code == 302
    ended.refresh_from_db()
    kept.refresh_from_db()
    assert (ended.ended_reason, kept.ended_reason) == ("staff", "")
    assert ended.ended_at is not None
    client = Client()
    for access, status in ((tokens["access"], 401), (other["access"], 200)):
        assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == status


def test_admin_deactivation_ends_every_session_for_good(admin_client):
    user = UserFactory()
    tokens = [session_tokens_issue(user=user) for _ in range(2)]
    bystander = session_tokens_issue(user=UserFactory())

    response = admin_client.post(
        f"/admin/users/user/{user.pk}/change/",
        {
            "email": user.email,
            "name": user.name,
            "phone": user.phone,
            # is_active left out: the checkbox is cleared
            "addresses-TOTAL_FORMS": "0",
            "addresses-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_active is False
    assert list(Session.objects.filter(user=user).values_list("ended_reason", flat=True)) == [
        "deactivation",
        "deactivation",
    ]
    # reactivated, the account's old sessions stay ended
    User.objects.filter(pk=user.pk).update(is_active=True)
    client = Client()
    for access, status in [(t["access"], 401) for t in tokens] + [(bystander["access"], 200)]:
        assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == status
