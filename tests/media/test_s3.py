"""The S3 backend against moto's S3 server over real HTTP: upload, signed URLs, presigned POST +
complete, delete."""

import base64
import hashlib
import json
import socket
import uuid

import boto3
import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.media.models import MediaAsset
from tests.conftest import auth_client
from tests.media.images import decode, image_bytes, noisy_png
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

PROBLEM = "application/problem+json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(settings, moto_s3_endpoint):
    """STORAGE_BACKEND=s3 on a fresh bucket of the moto server; returns a boto3 client to look."""
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    settings.STORAGE_BACKEND = "s3"
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = moto_s3_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_ACCESS_KEY_ID = "testing"
    settings.AWS_SECRET_ACCESS_KEY = "testing"
    settings.AWS_S3_ADDRESSING_STYLE = "path"
    settings.AWS_S3_CUSTOM_DOMAIN = None
    settings.AWS_QUERYSTRING_AUTH = True
    settings.AWS_QUERYSTRING_EXPIRE = 600
    client = boto3.client(
        "s3",
        endpoint_url=moto_s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    client.bucket = bucket
    return client


def keys(s3) -> list[str]:
    listing = s3.list_objects_v2(Bucket=s3.bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def upload(client, data: bytes, name: str = "photo.png"):
    return client.post(
        "/api/v1/media",
        {"file": SimpleUploadedFile(name, data, content_type="image/png")},
        format="multipart",
    )


def test_upload_to_s3_with_signed_urls_and_thumbnails(
    s3, user_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(user_client, image_bytes("JPEG", (900, 600)))

    assert response.status_code == 201, response.content
    asset = MediaAsset.objects.get(pk=response.json()["id"])
    assert asset.backend == "s3"
    assert asset.status == "ready"
    base = asset.storage_key.rsplit(".", 1)[0]
    # The incoming object is gone: only the cleaned image and its thumbnails remain.
    assert keys(s3) == sorted([asset.storage_key, f"{base}_medium.webp", f"{base}_small.webp"])
    head = s3.head_object(Bucket=s3.bucket, Key=asset.storage_key)
    assert head["ContentType"] == "image/jpeg"
    assert head["ContentLength"] == asset.size

    body = user_client.get(f"/api/v1/media/{asset.id}").json()
    assert body["url"].startswith(f"{s3.meta.endpoint_url}/{s3.bucket}/{asset.storage_key}?")
    assert "X-Amz-Signature=" in body["url"]
    assert "X-Amz-Expires=600" in body["url"]
    fetched = requests.get(body["url"], timeout=5)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == asset.sha256
    small = requests.get(body["thumbnails"]["small"], timeout=5)
    assert decode(small.content).size == (150, 100)
    assert decode(requests.get(body["thumbnails"]["medium"], timeout=5).content).size == (600, 400)


def test_signed_url_expiry_follows_the_setting(
    s3, settings, user_client, django_capture_on_commit_callbacks
):
    settings.AWS_QUERYSTRING_EXPIRE = 60
    with django_capture_on_commit_callbacks(execute=True):
        asset_id = upload(user_client, image_bytes("PNG")).json()["id"]
    body = user_client.get(f"/api/v1/media/{asset_id}").json()

    assert "X-Amz-Expires=60" in body["url"]
    assert requests.get(body["url"], timeout=5).status_code == 200


def test_custom_domain_urls_without_signing(
    s3, settings, user_client, django_capture_on_commit_callbacks
):
    settings.AWS_S3_CUSTOM_DOMAIN = "cdn.example.com"
    settings.AWS_QUERYSTRING_AUTH = False

    with django_capture_on_commit_callbacks(execute=True):
        asset_id = upload(user_client, image_bytes("PNG")).json()["id"]
    body = user_client.get(f"/api/v1/media/{asset_id}").json()

    key = MediaAsset.objects.get(pk=body["id"]).storage_key
    assert body["url"] == f"https://cdn.example.com/{key}"


def test_delete_removes_the_objects_after_commit(
    s3, user_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        asset_id = upload(user_client, image_bytes("PNG", (300, 300))).json()["id"]
    assert len(keys(s3)) == 3

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(f"/api/v1/media/{asset_id}")

    assert response.status_code == 204
    assert keys(s3) == []
    assert not MediaAsset.objects.filter(pk=asset_id).exists()


def presign(client, content_type="image/png"):
    return client.post("/api/v1/media/presign", {"content_type": content_type})


def post_form(upload: dict, data: bytes, content_type: str = "image/png") -> requests.Response:
    return requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("any-name.bin", data, content_type)},
        timeout=5,
    )


def test_presign_upload_and_complete(
    s3, settings, user, user_client, django_capture_on_commit_callbacks
):
    response = presign(user_client)

    assert response.status_code == 201, response.content
    body = response.json()
    asset = MediaAsset.objects.get(pk=body["id"])
    assert (asset.status, asset.owner, asset.backend) == ("pending", user, "s3")
    assert body["status"] == "pending"
    assert body["max_bytes"] == settings.MEDIA_MAX_BYTES
    assert body["upload"]["fields"]["key"] == asset.storage_key
    assert body["upload"]["fields"]["Content-Type"] == "image/png"
    policy = json.loads(base64.b64decode(body["upload"]["fields"]["policy"]))
    assert ["content-length-range", 1, settings.MEDIA_MAX_BYTES] in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert user_client.get(f"/api/v1/media/{asset.id}").json()["url"] is None

    original = image_bytes("PNG", (320, 200))
    assert post_form(body["upload"], original).status_code in (200, 201, 204)

    with django_capture_on_commit_callbacks(execute=True):
        completed = user_client.post(f"/api/v1/media/{asset.id}/complete")

    assert completed.status_code == 200, completed.content
    assert completed.json()["status"] == "processing"
    assert (completed.json()["width"], completed.json()["height"]) == (320, 200)
    asset.refresh_from_db()
    assert asset.status == "ready"
    stored = s3.get_object(Bucket=s3.bucket, Key=asset.storage_key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == asset.sha256
    assert asset.size == len(stored)
    assert len(keys(s3)) == 3

    again = user_client.post(f"/api/v1/media/{asset.id}/complete")
    assert again.status_code == 409
    assert again.json()["code"] == "media.invalid_state"


def test_complete_before_uploading_keeps_the_asset_pending(s3, user_client):
    asset_id = presign(user_client).json()["id"]

    response = user_client.post(f"/api/v1/media/{asset_id}/complete")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "media.upload_missing"
    assert MediaAsset.objects.get(pk=asset_id).status == "pending"


def test_an_upload_that_does_not_decode_is_deleted_by_the_worker_and_the_asset_failed(
    s3, user_client, django_capture_on_commit_callbacks
):
    """complete reads only the header; the worker decodes, fails and deletes a truncated image."""
    body = presign(user_client).json()
    post_form(body["upload"], image_bytes("PNG", (64, 64))[:200])

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(f"/api/v1/media/{body['id']}/complete")

    assert response.status_code == 200
    assert response.json()["status"] == "processing"
    assert keys(s3) == []
    asset = MediaAsset.objects.get(pk=body["id"])
    assert (asset.status, asset.failure_reason) == ("failed", "The image is corrupt.")


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"<?php system($_GET['c']); ?>" * 10, 400, "media.invalid_image"),
        (image_bytes("BMP", (64, 64)), 400, "media.unsupported_format"),
    ],
    ids=["script", "bmp"],
)
def test_an_invalid_uploaded_object_is_deleted_and_the_asset_failed(
    s3, user_client, data, status, code
):
    body = presign(user_client).json()
    post_form(body["upload"], data)
    assert keys(s3) == [body["upload"]["fields"]["key"]]

    response = user_client.post(f"/api/v1/media/{body['id']}/complete")

    assert response.status_code == status
    assert response.json()["code"] == code
    assert keys(s3) == []
    asset = MediaAsset.objects.get(pk=body["id"])
    assert asset.status == "failed"
    assert asset.failure_reason


def test_an_object_over_the_limit_is_refused_by_complete_and_deleted(s3, settings, user_client):
    # Real S3 refuses it at POST time (content-length-range in the policy, asserted above); moto
    # does not enforce policies, which lets this test show that complete checks the size again.
    settings.MEDIA_MAX_BYTES = 4096
    body = presign(user_client).json()
    big = noisy_png((64, 64))
    assert post_form(body["upload"], big).status_code == 204

    response = user_client.post(f"/api/v1/media/{body['id']}/complete")

    assert response.status_code == 413
    assert response.json()["code"] == "media.too_large"
    assert keys(s3) == []
    assert MediaAsset.objects.get(pk=body["id"]).status == "failed"


def test_presign_and_complete_permissions(s3, user, user_client, api_client):
    asset_id = presign(user_client).json()["id"]
    other = auth_client(UserFactory())

    assert other.post(f"/api/v1/media/{asset_id}/complete").status_code == 404
    assert api_client.post(f"/api/v1/media/{asset_id}/complete").status_code == 401
    assert (
        api_client.post("/api/v1/media/presign", {"content_type": "image/png"}).status_code == 401
    )
    refused = presign(user_client, content_type="image/svg+xml")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["pointer"] == "/content_type"
    assert MediaAsset.objects.count() == 1


def test_presign_needs_the_s3_backend(user_client, settings):
    settings.STORAGE_BACKEND = "filesystem"

    response = presign(user_client)

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "media.presign_unsupported"
    assert MediaAsset.objects.count() == 0
