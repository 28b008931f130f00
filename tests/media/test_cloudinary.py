"""The Cloudinary backend: the SDK builds and signs the calls, HTTP is mocked with `responses`
(Cloudinary is a third-party SaaS), and the request shape is asserted."""

import email
import email.policy
import re

import cloudinary.utils
import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError

from apps.media.models import MediaAsset
from apps.media.services import media_upload
from tests.media.images import decode, image_bytes, jpeg_with_exif
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

CLOUD = "demo-cloud"
API_KEY = "123456789012345"
API_SECRET = "s3cr3t-abc"
UPLOAD_URL = f"https://api.cloudinary.com/v1_1/{CLOUD}/image/upload"
DESTROY_URL = f"https://api.cloudinary.com/v1_1/{CLOUD}/image/destroy"
DELIVERY = f"https://res.cloudinary.com/{CLOUD}/image/upload"


@pytest.fixture
def cloudinary_backend(settings):
    settings.STORAGE_BACKEND = "cloudinary"
    settings.CLOUDINARY_URL = f"cloudinary://{API_KEY}:{API_SECRET}@{CLOUD}"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


def multipart_fields(request) -> tuple[dict[str, str], dict[str, bytes]]:
    """(form fields, files) of a multipart request body."""
    message = email.message_from_bytes(
        f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode() + request.body,
        policy=email.policy.HTTP,
    )
    fields, files = {}, {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename():
            files[name] = part.get_payload(decode=True)
        else:
            fields[name] = part.get_payload(decode=True).decode()
    return fields, files


def form_fields(request) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(request.body))


def assert_signed(fields: dict[str, str]) -> None:
    unsigned = {k: v for k, v in fields.items() if k not in ("signature", "api_key", "file")}
    assert fields["api_key"] == API_KEY
    assert fields["signature"] == cloudinary.utils.api_sign_request(unsigned, API_SECRET)


def test_upload_goes_to_cloudinary_with_signed_params_and_thumbnails_are_urls(
    cloudinary_backend, user, user_client, django_capture_on_commit_callbacks
):
    original = jpeg_with_exif()
    cloudinary_backend.post(UPLOAD_URL, json={"public_id": "x", "version": 1, "format": "jpg"})
    cloudinary_backend.post(DESTROY_URL, json={"result": "ok"})
    cloudinary_backend.get(re.compile(rf"{re.escape(DELIVERY)}/v1/incoming/.*"), body=original)

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(
            "/api/v1/media",
            {"file": SimpleUploadedFile("me.jpg", original, content_type="image/jpeg")},
            format="multipart",
        )

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "processing"
    asset = MediaAsset.objects.get(pk=response.json()["id"])
    public_id = asset.storage_key.rsplit(".", 1)[0]
    incoming, fetch, cleaned, destroy = cloudinary_backend.calls
    # The upload as it came waits under an incoming name for the worker.
    fields, files = multipart_fields(incoming.request)
    assert fields["public_id"] == f"incoming/{public_id}"
    assert files["file"] == original
    assert fetch.request.url == f"{DELIVERY}/v1/incoming/{public_id}.jpg"
    # The worker sends the cleaned bytes under the asset's key: upright, no EXIF.
    fields, files = multipart_fields(cleaned.request)
    assert cleaned.request.url == UPLOAD_URL
    assert fields["public_id"] == public_id
    assert fields["overwrite"] == "0"
    assert fields["unique_filename"] == "0"
    assert fields["timestamp"].isdigit()
    assert_signed(fields)
    sent = decode(files["file"])
    assert sent.size == (20, 40)
    assert dict(sent.getexif()) == {}
    # ... and destroys the incoming image.
    assert destroy.request.url == DESTROY_URL
    assert form_fields(destroy.request)["public_id"] == f"incoming/{public_id}"
    # Thumbnails are Cloudinary transformations.
    body = user_client.get(f"/api/v1/media/{asset.id}").json()
    assert body["status"] == "ready"
    assert (body["width"], body["height"]) == (20, 40)
    assert asset.backend == "cloudinary"
    # The SDK adds the default version (v1) to foldered public ids.
    assert body["url"] == f"{DELIVERY}/v1/{public_id}.jpg"
    assert body["thumbnails"] == {
        "small": f"{DELIVERY}/c_limit,h_150,w_150/v1/{public_id}.webp",
        "medium": f"{DELIVERY}/c_limit,h_600,w_600/v1/{public_id}.webp",
    }


def test_delete_destroys_the_cloudinary_image_after_commit(
    cloudinary_backend, user_client, django_capture_on_commit_callbacks
):
    cloudinary_backend.post(UPLOAD_URL, json={"public_id": "x", "version": 1})
    cloudinary_backend.post(DESTROY_URL, json={"result": "ok"})
    asset_id = user_client.post(
        "/api/v1/media",
        {"file": SimpleUploadedFile("a.png", image_bytes("PNG"), content_type="image/png")},
        format="multipart",
    ).json()["id"]
    public_id = MediaAsset.objects.get(pk=asset_id).storage_key.rsplit(".", 1)[0]

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(f"/api/v1/media/{asset_id}")

    assert response.status_code == 204
    destroyed = [form_fields(call.request) for call in cloudinary_backend.calls[1:]]
    assert all(call.request.url == DESTROY_URL for call in cloudinary_backend.calls[1:])
    # Still processing: its key (idempotent if never written) and the incoming image.
    assert [fields["public_id"] for fields in destroyed] == [public_id, f"incoming/{public_id}"]
    assert all(fields["invalidate"] == "1" for fields in destroyed)
    for fields in destroyed:
        assert_signed(fields)


def test_a_cloudinary_outage_is_503_and_leaves_no_row(cloudinary_backend, user_client):
    cloudinary_backend.post(UPLOAD_URL, status=500, json={"error": {"message": "boom"}})

    response = user_client.post(
        "/api/v1/media",
        {"file": SimpleUploadedFile("a.png", image_bytes("PNG"), content_type="image/png")},
        format="multipart",
    )

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "media.storage_unavailable"
    assert MediaAsset.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_failed_database_write_destroys_the_uploaded_image(cloudinary_backend):
    cloudinary_backend.post(UPLOAD_URL, json={"public_id": "x", "version": 1})
    cloudinary_backend.post(DESTROY_URL, json={"result": "ok"})
    ghost = UserFactory()
    type(ghost).objects.filter(pk=ghost.pk).delete()

    with pytest.raises(IntegrityError):
        media_upload(owner=ghost, data=image_bytes("PNG"), original_name="a.png")

    upload_call, destroy_call = cloudinary_backend.calls
    uploaded_id = multipart_fields(upload_call.request)[0]["public_id"]
    assert form_fields(destroy_call.request)["public_id"] == uploaded_id
    assert MediaAsset.objects.count() == 0


def test_a_malformed_cloudinary_url_is_a_clear_503(settings, user_client):
    settings.STORAGE_BACKEND = "cloudinary"
    settings.CLOUDINARY_URL = "https://not-a-cloudinary-url"

    response = user_client.post(
        "/api/v1/media",
        {"file": SimpleUploadedFile("a.png", image_bytes("PNG"), content_type="image/png")},
        format="multipart",
    )

    assert response.status_code == 503
    assert "CLOUDINARY_URL" in response.json()["detail"]
    assert MediaAsset.objects.count() == 0
