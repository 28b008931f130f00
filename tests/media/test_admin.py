"""The media admin: list with filters, read-only detail, deletion through the service."""

import pytest

from apps.media.models import MediaAsset
from tests.media.factories import MediaAssetFactory
from tests.media.files import stored_files
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/media/mediaasset/"


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_changelist_filters_by_status_and_backend(admin_client, django_assert_max_num_queries):
    ready = MediaAssetFactory(status="ready", backend="filesystem")
    failed = MediaAssetFactory(status="failed", backend="filesystem")
    on_s3 = MediaAssetFactory(status="ready", backend="s3", storage_key="media/s3/x.png")

    everything = admin_client.get(CHANGELIST)
    by_status = admin_client.get(CHANGELIST, {"status__exact": "failed"})
    by_backend = admin_client.get(CHANGELIST, {"backend__exact": "s3"})

    assert everything.status_code == 200
    assert {a.pk for a in everything.context["cl"].result_list} == {ready.pk, failed.pk, on_s3.pk}
    assert [a.pk for a in by_status.context["cl"].result_list] == [failed.pk]
    assert [a.pk for a in by_backend.context["cl"].result_list] == [on_s3.pk]


def test_changelist_query_count_is_constant(admin_client, django_assert_max_num_queries):
    MediaAssetFactory.create_batch(2)
    with django_assert_max_num_queries(12) as few:
        admin_client.get(CHANGELIST)
    MediaAssetFactory.create_batch(10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(CHANGELIST)


def test_detail_is_read_only_and_add_is_not_offered(admin_client):
    asset = MediaAssetFactory(status="ready")

    page = admin_client.get(f"{CHANGELIST}{asset.pk}/change/")
    posted = admin_client.post(f"{CHANGELIST}{asset.pk}/change/", {"status": "failed"})

    assert page.status_code == 200
    assert b'name="status"' not in page.content
    assert posted.status_code == 403
    asset.refresh_from_db()
    assert asset.status == "ready"
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_admin_delete_goes_through_the_service(
    admin_client, settings, django_capture_on_commit_callbacks
):
    asset = MediaAssetFactory(thumbnails={"small": "media/test/t_small.webp"})
    for key in (asset.storage_key, "media/test/t_small.webp"):
        (settings.MEDIA_ROOT / key).parent.mkdir(parents=True, exist_ok=True)
        (settings.MEDIA_ROOT / key).write_bytes(b"x")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{CHANGELIST}{asset.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()
    assert stored_files(settings.MEDIA_ROOT) == []


def test_staff_without_superuser_rights_cannot_see_it(client):
    client.force_login(UserFactory(is_staff=True))

    assert client.get(CHANGELIST).status_code == 403
