"""POST/GET/DELETE /api/v1/media on the filesystem backend, with thumbnails run after commit."""

import hashlib
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError

from apps.events.models import PendingTask
from apps.media.models import MediaAsset
from apps.media.services import media_upload
from tests.assertions import assert_problem
from tests.conftest import auth_client
from tests.media.factories import MediaAssetFactory
from tests.media.files import stored_files
from tests.media.images import (
    close_to,
    decode,
    image_bytes,
    jpeg_with_exif,
    noisy_png,
    png_declaring,
)
from tests.shops.factories import ShopFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/media"
PROBLEM = "application/problem+json"


def upload(
    client,
    data: bytes,
    name: str = "photo.png",
    content_type: str = "image/png",
    meta: dict | None = None,
    **fields,
):
    return client.post(
        URL,
        {"file": SimpleUploadedFile(name, data, content_type=content_type), **fields},
        format="multipart",
        **(meta or {}),
    )


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_upload_each_format_stores_it_and_makes_thumbnails_after_commit(
    user, user_client, settings, django_capture_on_commit_callbacks, fmt, content_type
):
    data = image_bytes(fmt, (800, 400))

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(user_client, data, name="holiday.bin", content_type="text/plain")

    assert response.status_code == 201, response.content
    body = response.json()
    asset = MediaAsset.objects.get(pk=body["id"])
    # The 201 is serialised before commit, from the probe: the header's type and dimensions, the
    # size as uploaded, no URL until the worker (eager here, after commit) has cleaned it.
    assert body == {
        "id": str(asset.id),
        "url": None,
        "content_type": content_type,
        "size": len(data),
        "width": 800,
        "height": 400,
        "status": "processing",
        "failure_reason": "",
        "thumbnails": {"small": None, "medium": None},
        "created_at": body["created_at"],
    }
    # The worker's task was queued durably with the row and sent after commit.
    assert not PendingTask.objects.exists()
    stored = (settings.MEDIA_ROOT / asset.storage_key).read_bytes()
    assert asset.owner == user
    assert asset.backend == "filesystem"
    assert asset.original_name == "holiday.bin"
    assert (asset.size, asset.content_type) == (len(stored), content_type)
    assert asset.sha256 == hashlib.sha256(stored).hexdigest()
    assert decode(stored).format == fmt
    # After commit the worker cleaned it: ready, the cleaned original and two WebP thumbnails;
    # the upload as it came is gone.
    assert asset.status == "ready"
    assert set(asset.thumbnails) == {"small", "medium"}
    assert decode((settings.MEDIA_ROOT / asset.thumbnails["small"]).read_bytes()).size == (150, 75)
    assert decode((settings.MEDIA_ROOT / asset.thumbnails["medium"]).read_bytes()).size == (
        600,
        300,
    )
    assert len(stored_files(settings.MEDIA_ROOT)) == 3
    assert not (settings.MEDIA_ROOT / "incoming").exists() or not any(
        (settings.MEDIA_ROOT / "incoming").rglob("*.*")
    )

    detail = user_client.get(f"{URL}/{asset.id}").json()
    assert detail["status"] == "ready"
    assert detail["url"] == f"/media/{asset.storage_key}"
    assert detail["thumbnails"] == {
        "small": f"/media/{asset.thumbnails['small']}",
        "medium": f"/media/{asset.thumbnails['medium']}",
    }


def test_storage_key_is_generated_never_the_users_file_name(user_client):
    response = upload(user_client, image_bytes("PNG"), name="../../etc/passwd.png")

    key = MediaAsset.objects.get(pk=response.json()["id"]).storage_key
    assert key.startswith("media/")
    assert key.endswith(f"{response.json()['id'].replace('-', '')}.png")
    assert "passwd" not in key
    assert ".." not in key


def test_exif_is_applied_and_stripped_on_upload(
    user_client, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(user_client, jpeg_with_exif(orientation=6, size=(40, 20)), "me.jpg")

    assert response.status_code == 201
    assert (response.json()["width"], response.json()["height"]) == (40, 20)  # the header's
    asset = MediaAsset.objects.get(pk=response.json()["id"])
    assert (asset.status, asset.width, asset.height) == ("ready", 20, 40)  # upright
    stored_bytes = (settings.MEDIA_ROOT / asset.storage_key).read_bytes()
    stored = decode(stored_bytes)
    assert dict(stored.getexif()) == {}
    assert b"SpyCam" not in stored_bytes
    assert close_to(stored.getpixel((10, 5)), "red")


def test_caller_cannot_set_owner_status_or_dimensions(user, user_client):
    other = UserFactory()

    response = upload(
        user_client,
        image_bytes("PNG", (40, 30)),
        owner=str(other.id),
        status="ready",
        width="9999",
        backend="s3",
        storage_key="media/mine.png",
    )

    assert response.status_code == 201
    asset = MediaAsset.objects.get(pk=response.json()["id"])
    assert (asset.owner, asset.status, asset.width, asset.backend) == (
        user,
        "processing",
        40,
        "filesystem",
    )
    assert asset.storage_key != "media/mine.png"


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"hello, I am a text file\n" * 20, 400, "media.invalid_image"),
        (image_bytes("PNG", (64, 64))[:20], 400, "media.invalid_image"),
        (image_bytes("BMP"), 400, "media.unsupported_format"),
        (png_declaring(100_000, 100_000), 400, "media.too_many_pixels"),
        (png_declaring(8_000, 6_000), 400, "media.too_many_pixels"),
        (png_declaring(6_000, 4_500), 400, "media.too_many_pixels"),
    ],
    ids=["renamed-text", "no-header", "bmp", "pixel-bomb", "48-megapixels", "27-megapixels"],
)
def test_refused_uploads_are_problems_and_store_nothing(user_client, settings, data, status, code):
    response = upload(user_client, data, name="photo.jpg", content_type="image/jpeg")

    assert_problem(response, status, code)
    assert MediaAsset.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []


@pytest.mark.parametrize(
    ("size", "detail_start"),
    [
        ((40, 40), "The file is "),  # just over: caught on the file itself
        ((200, 200), "The request is "),  # far over: refused from Content-Length, unparsed
    ],
)
def test_oversized_upload_is_413_and_stores_nothing(user_client, settings, size, detail_start):
    settings.MEDIA_MAX_BYTES = 4096
    data = noisy_png(size)
    assert len(data) > 4096

    response = upload(user_client, data)

    assert_problem(response, 413, "media.too_large")
    assert response.json()["detail"].startswith(detail_start)
    assert MediaAsset.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []


def test_an_idempotency_key_replays_the_upload(user_client, settings):
    data = image_bytes("PNG")

    first = upload(user_client, data, meta={"HTTP_IDEMPOTENCY_KEY": "upload-1"})
    second = upload(user_client, data, meta={"HTTP_IDEMPOTENCY_KEY": "upload-1"})

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert MediaAsset.objects.count() == 1
    assert len(stored_files(settings.MEDIA_ROOT)) == 1


def test_pixel_limit_follows_the_setting(user_client, settings):
    settings.MEDIA_MAX_PIXELS = 1000

    response = upload(user_client, image_bytes("PNG", (40, 30)))

    assert_problem(response, 400, "media.too_many_pixels")
    assert "1200 pixels" in response.json()["detail"]


def test_missing_file_is_400_with_pointer(user_client):
    response = user_client.post(URL, {}, format="multipart")

    assert_problem(response, 400, "invalid")
    assert response.json()["errors"][0]["pointer"] == "/file"


def test_json_body_is_415(user_client):
    response = user_client.post(URL, {"file": "x"}, format="json")

    assert response.status_code == 415
    assert response["Content-Type"] == PROBLEM


def test_anonymous_upload_is_401(api_client, settings):
    response = upload(api_client, image_bytes("PNG"))

    assert_problem(response, 401, "auth.not_authenticated")
    assert stored_files(settings.MEDIA_ROOT) == []


@pytest.mark.django_db(transaction=True)
def test_a_failed_database_write_leaves_nothing_in_storage(settings):
    # A real failure after the file was stored: the owner row is gone, so the foreign key check
    # fails when the transaction commits.
    ghost = UserFactory()
    ghost_id = ghost.id
    type(ghost).objects.filter(pk=ghost_id).delete()

    with pytest.raises(IntegrityError):
        media_upload(owner=ghost, data=image_bytes("PNG"), original_name="a.png")

    assert MediaAsset.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []


def test_get_is_owner_only(user, user_client, api_client):
    asset = MediaAssetFactory(owner=user)

    assert user_client.get(f"{URL}/{asset.id}").json()["id"] == str(asset.id)
    assert_problem(auth_client(UserFactory()).get(f"{URL}/{asset.id}"), 404, "media.not_found")
    assert_problem(api_client.get(f"{URL}/{asset.id}"), 401, "auth.not_authenticated")
    assert_problem(user_client.get(f"{URL}/{uuid.uuid4()}"), 404, "media.not_found")


def test_get_pending_asset_has_no_url_yet(user, user_client):
    asset = MediaAssetFactory(owner=user, status="pending", width=None, height=None)

    body = user_client.get(f"{URL}/{asset.id}").json()

    assert body["url"] is None
    assert body["thumbnails"] == {"small": None, "medium": None}


def test_delete_removes_row_and_files_after_commit(
    user_client, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        asset_id = upload(user_client, image_bytes("PNG", (300, 300))).json()["id"]
    assert len(stored_files(settings.MEDIA_ROOT)) == 3

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = user_client.delete(f"{URL}/{asset_id}")
    assert response.status_code == 204
    assert not MediaAsset.objects.filter(pk=asset_id).exists()
    # Files stay until the deletion commits.
    assert len(stored_files(settings.MEDIA_ROOT)) == 3

    for callback in callbacks:
        callback()
    assert stored_files(settings.MEDIA_ROOT) == []


def test_delete_by_someone_else_is_404_and_keeps_everything(user, settings, api_client):
    asset = MediaAssetFactory(owner=user)

    assert_problem(auth_client(UserFactory()).delete(f"{URL}/{asset.id}"), 404, "media.not_found")
    assert_problem(api_client.delete(f"{URL}/{asset.id}"), 401, "auth.not_authenticated")
    assert MediaAsset.objects.filter(pk=asset.id).exists()


def test_an_asset_used_by_a_product_cannot_be_deleted(
    user, user_client, settings, django_capture_on_commit_callbacks
):
    from apps.catalog.models import Product, ProductImage

    with django_capture_on_commit_callbacks(execute=True):
        asset_id = upload(user_client, image_bytes("PNG")).json()["id"]
    shop = ShopFactory(owner=user)
    product = Product.objects.create(shop=shop, type="physical", name="Mug", slug="mug", price=5)
    ProductImage.objects.create(product=product, asset_id=asset_id)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = user_client.delete(f"{URL}/{asset_id}")

    assert_problem(response, 409, "media.in_use")
    assert callbacks == []
    assert MediaAsset.objects.filter(pk=asset_id).exists()
    assert ProductImage.objects.filter(asset_id=asset_id).exists()
    assert len(stored_files(settings.MEDIA_ROOT)) == 3


def test_a_shop_logo_does_not_block_deletion_and_is_cleared(user, user_client):
    asset = MediaAssetFactory(owner=user)
    shop = ShopFactory(owner=user, logo=asset)

    assert user_client.delete(f"{URL}/{asset.id}").status_code == 204

    shop.refresh_from_db()
    assert shop.logo is None


def test_the_worker_marks_an_image_that_does_not_decode_failed_and_deletes_it(
    user, user_client, settings, django_capture_on_commit_callbacks
):
    """The web request only reads the header, so a truncated image is accepted as `processing`;
    the worker decodes it, fails it with the reason and deletes the bytes."""
    truncated = image_bytes("PNG", (64, 64))[:150]

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(user_client, truncated)

    assert response.status_code == 201
    assert response.json()["status"] == "processing"
    asset = MediaAsset.objects.get(pk=response.json()["id"])
    assert asset.status == "failed"
    assert asset.failure_reason == "The image is corrupt."
    assert asset.thumbnails == {}
    assert stored_files(settings.MEDIA_ROOT) == []
    assert user_client.get(f"{URL}/{asset.id}").json()["url"] is None


def test_the_worker_cleans_an_asset_stored_before_cleaning_moved_to_it(user, settings):
    """An asset whose bytes sit at its key (no incoming object) is cleaned from there."""
    from apps.media.services import media_process

    asset = MediaAssetFactory(owner=user, status="processing", storage_key="media/x/broken.png")
    (settings.MEDIA_ROOT / "media/x").mkdir(parents=True)
    (settings.MEDIA_ROOT / "media/x/broken.png").write_bytes(b"not an image")

    media_process(asset_id=asset.id)

    asset.refresh_from_db()
    assert asset.status == "failed"
    assert asset.failure_reason == "The file is not an image we can read."
    assert stored_files(settings.MEDIA_ROOT) == []


def test_the_web_request_decodes_no_pixel_the_worker_does(
    user_client, monkeypatch, django_capture_on_commit_callbacks
):
    """A 128 KB PNG may declare 40 MP: decoding it took ~7 s of CPU and ~400 MB in the request."""
    from PIL import ImageFile

    decoded: list[str] = []
    real_load = ImageFile.ImageFile.load

    def load(image):
        decoded.append(image.format)
        return real_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    data = image_bytes("JPEG", (1600, 1200))

    response = upload(user_client, data, name="big.jpg")

    assert response.status_code == 201
    assert decoded == []
    with django_capture_on_commit_callbacks(execute=True):
        from apps.media.services import media_process

        media_process(asset_id=response.json()["id"])
    assert "JPEG" in decoded
    assert MediaAsset.objects.get(pk=response.json()["id"]).status == "ready"


def test_the_default_pixel_limit_is_25_megapixels(user_client, settings):
    assert settings.MEDIA_MAX_PIXELS == 25_000_000
    response = upload(user_client, png_declaring(8_000, 5_000))  # 40 MP in a few bytes

    assert_problem(response, 400, "media.too_many_pixels")
    assert "at most 25000000" in response.json()["detail"]
    assert MediaAsset.objects.count() == 0


def test_uploads_beyond_the_hourly_pixel_budget_are_429(user, user_client, settings):
    settings.MEDIA_PIXEL_BUDGET_PER_HOUR = 2_500  # two 40x30 images, not three
    first = upload(user_client, image_bytes("PNG", (40, 30)))
    second = upload(user_client, image_bytes("PNG", (40, 30)))
    refused = upload(user_client, image_bytes("PNG", (40, 30)))
    small = upload(user_client, image_bytes("PNG", (10, 10)))  # still fits: 2,500 - 2,400
    other_user = upload(auth_client(UserFactory()), image_bytes("PNG", (40, 30)))

    assert [first.status_code, second.status_code, small.status_code] == [201, 201, 201]
    assert other_user.status_code == 201
    assert_problem(refused, 429, "media.pixel_budget_exceeded")
    body = refused.json()
    assert (body["limit"], body["used"], body["requested"]) == (2_500, 2_400, 1_200)
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert body["retry_after"] == int(refused["Retry-After"])
    assert MediaAsset.objects.filter(owner=user).count() == 3


def test_thumbnail_task_is_idempotent(user_client, settings, django_capture_on_commit_callbacks):
    from apps.media.services import media_process
    from apps.media.tasks import process_asset_task

    with django_capture_on_commit_callbacks(execute=True):
        asset_id = upload(user_client, image_bytes("PNG", (300, 200))).json()["id"]
    asset = MediaAsset.objects.get(pk=asset_id)
    files = stored_files(settings.MEDIA_ROOT)
    before = (asset.status, asset.thumbnails, asset.updated_at)

    assert process_asset_task.delay(asset_id).get() == "ready"
    media_process(asset_id=asset.id)

    asset.refresh_from_db()
    assert (asset.status, asset.thumbnails, asset.updated_at) == before
    assert stored_files(settings.MEDIA_ROOT) == files
    # A deleted asset is harmless too.
    assert process_asset_task.delay(str(uuid.uuid4())).get() is None


def test_throttled_uploads_answer_429(user_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "media_upload": "1/min",
        },
    }
    from rest_framework.throttling import ScopedRateThrottle

    original = ScopedRateThrottle.THROTTLE_RATES
    ScopedRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    try:
        assert upload(user_client, image_bytes("PNG")).status_code == 201
        response = upload(user_client, image_bytes("PNG"))
    finally:
        ScopedRateThrottle.THROTTLE_RATES = original

    assert_problem(response, 429, "throttled")
    assert MediaAsset.objects.count() == 1


def test_the_pixel_budget_fails_open_when_the_cache_is_unreachable(user_client, settings):
    """Like the throttles: Redis is an accelerator, an outage must not refuse uploads."""
    settings.MEDIA_PIXEL_BUDGET_PER_HOUR = 1_000  # less than one 40x30 image
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }

    response = upload(user_client, image_bytes("PNG", (40, 30)))

    assert response.status_code == 201, response.content


def test_upload_queues_its_worker_task_with_the_row(
    user_client, django_capture_on_commit_callbacks
):
    """The task is a row of the upload's transaction, so a broker that is down at commit only
    delays the processing: the relay's pass sends the row once the broker is back."""
    with django_capture_on_commit_callbacks(execute=False):
        response = user_client.post(
            "/api/v1/media",
            {"file": SimpleUploadedFile("a.png", image_bytes("PNG"), content_type="image/png")},
            format="multipart",
        )

    assert response.status_code == 201, response.content
    assert list(PendingTask.objects.values_list("name", "kwargs")) == [
        ("media.process", {"asset_id": response.json()["id"]})
    ]
    assert MediaAsset.objects.get().status == "processing"
