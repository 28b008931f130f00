"""One storage interface over the filesystem, S3 and Cloudinary.

`storage_for(name)` returns the backend that holds an asset (`asset.backend`), and
`current_storage()` the one new uploads go to (`settings.STORAGE_BACKEND`). Settings are read at
call time, so a settings change (or a test override) takes effect without a restart.
"""

from __future__ import annotations

import threading
import time
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from apps.media.errors import MediaTooLarge, PresignUnsupported, StorageUnavailable

THUMBNAIL_CACHE_CONTROL = "public, max-age=31536000, immutable"


class StoredObjectMissing(Exception):
    """The key has no object (a presigned upload that never happened)."""


class MediaStorage:
    name = ""
    # Cloudinary makes thumbnails itself from transformation URLs; the others need a worker.
    remote_thumbnails = False

    def save(self, key: str, data: bytes, content_type: str) -> None:
        raise NotImplementedError

    def read(self, key: str, *, max_bytes: int) -> bytes:
        """The object's bytes; MediaTooLarge past `max_bytes`, StoredObjectMissing if absent."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key is not an error."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def url(self, key: str) -> str:
        raise NotImplementedError

    def thumbnail_url(self, stored: str) -> str:
        """URL of a thumbnail from what `MediaAsset.thumbnails` holds for it."""
        return self.url(stored)

    def remote_thumbnail_urls(self, key: str, sizes: dict[str, int]) -> dict[str, str]:
        raise NotImplementedError

    def presigned_post(
        self, key: str, *, content_type: str, max_bytes: int, expires: int
    ) -> dict[str, Any]:
        raise PresignUnsupported(
            f"Direct uploads need STORAGE_BACKEND=s3; this server stores media in {self.name}."
        )


class FilesystemMediaStorage(MediaStorage):
    name = "filesystem"

    def _fs(self) -> FileSystemStorage:
        return FileSystemStorage(
            location=settings.MEDIA_ROOT, base_url=settings.MEDIA_URL, allow_overwrite=True
        )

    def save(self, key: str, data: bytes, content_type: str) -> None:
        try:
            saved = self._fs().save(key, ContentFile(data))
        except OSError as exc:
            raise StorageUnavailable(f"Could not write the file: {exc.strerror}") from exc
        if saved != key:  # never happens with allow_overwrite, but a renamed key would be lost
            self._fs().delete(saved)
            raise StorageUnavailable("The storage renamed the file.")

    def read(self, key: str, *, max_bytes: int) -> bytes:
        fs = self._fs()
        try:
            if fs.size(key) > max_bytes:
                raise MediaTooLarge(f"The file is larger than {max_bytes} bytes.")
            with fs.open(key, "rb") as handle:
                return handle.read(max_bytes + 1)
        except FileNotFoundError as exc:
            raise StoredObjectMissing(key) from exc

    def delete(self, key: str) -> None:
        self._fs().delete(key)

    def exists(self, key: str) -> bool:
        return self._fs().exists(key)

    def url(self, key: str) -> str:
        return self._fs().url(key)


_s3_lock = threading.Lock()
_s3_cache: dict[tuple, Any] = {}

_S3_SETTINGS = (
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_REGION_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_CUSTOM_DOMAIN",
    "AWS_QUERYSTRING_AUTH",
    "AWS_QUERYSTRING_EXPIRE",
    "AWS_CLOUDFRONT_KEY_ID",
    "AWS_CLOUDFRONT_KEY",
    "AWS_S3_ADDRESSING_STYLE",
    "AWS_S3_URL_PROTOCOL",
    "AWS_S3_SIGNATURE_VERSION",
)


class S3MediaStorage(MediaStorage):
    name = "s3"

    def _storage(self) -> Any:
        from storages.backends.s3 import S3Storage

        # django-storages reads the AWS_* settings itself; one instance per distinct configuration
        # keeps boto3 session creation (tens of ms) off the request path.
        config = tuple(getattr(settings, name, None) for name in _S3_SETTINGS)
        with _s3_lock:
            storage = _s3_cache.get(config)
            if storage is None:
                storage = S3Storage(file_overwrite=True, default_acl=None)
                _s3_cache[config] = storage
        return storage

    def _client(self) -> Any:
        return self._storage().connection.meta.client

    def _bucket(self) -> str:
        return settings.AWS_STORAGE_BUCKET_NAME

    def save(self, key: str, data: bytes, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client().put_object(
                Bucket=self._bucket(),
                Key=key,
                Body=data,
                ContentType=content_type,
                CacheControl=THUMBNAIL_CACHE_CONTROL,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"S3 refused the upload: {exc}") from exc

    def read(self, key: str, *, max_bytes: int) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client().get_object(Bucket=self._bucket(), Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise StoredObjectMissing(key) from exc
            raise StorageUnavailable(f"S3 read failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"S3 read failed: {exc}") from exc
        body = response["Body"]
        try:
            if response.get("ContentLength", 0) > max_bytes:
                raise MediaTooLarge(f"The file is larger than {max_bytes} bytes.")
            return body.read(max_bytes + 1)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client().delete_object(Bucket=self._bucket(), Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"S3 delete failed: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._storage().exists(key)

    def url(self, key: str) -> str:
        # Signed (AWS_QUERYSTRING_AUTH, AWS_QUERYSTRING_EXPIRE), on AWS_S3_CUSTOM_DOMAIN when set,
        # CloudFront-signed when AWS_CLOUDFRONT_KEY(_ID) are set.
        return self._storage().url(key)

    def presigned_post(
        self, key: str, *, content_type: str, max_bytes: int, expires: int
    ) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._client().generate_presigned_post(
                Bucket=self._bucket(),
                Key=key,
                Fields={"Content-Type": content_type},
                Conditions=[
                    ["content-length-range", 1, max_bytes],
                    {"Content-Type": content_type},
                ],
                ExpiresIn=expires,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"Could not presign the upload: {exc}") from exc


class CloudinaryMediaStorage(MediaStorage):
    """The cloudinary SDK builds, signs and names everything; requests carries the HTTP (with
    timeouts), so the transport is the same one the rest of the project uses."""

    name = "cloudinary"
    remote_thumbnails = True

    def _credentials(self) -> dict[str, str]:
        parsed = urlsplit(settings.CLOUDINARY_URL)
        if parsed.scheme != "cloudinary" or not (parsed.hostname and parsed.password):
            raise StorageUnavailable(
                "CLOUDINARY_URL must look like cloudinary://api_key:api_secret@cloud_name."
            )
        return {
            "cloud_name": parsed.hostname,
            "api_key": unquote(parsed.username or ""),
            "api_secret": unquote(parsed.password),
        }

    @staticmethod
    def _public_id(key: str) -> tuple[str, str]:
        path = PurePosixPath(key)
        return str(path.with_suffix("")), path.suffix.lstrip(".")

    def _call(self, action: str, params: dict[str, Any], file: Any = None) -> dict[str, Any]:
        import cloudinary.utils

        credentials = self._credentials()
        signed = cloudinary.utils.sign_request(params, credentials)
        url = cloudinary.utils.cloudinary_api_url(action, resource_type="image", **credentials)
        try:
            response = requests.post(
                url,
                data=signed,
                files={"file": file} if file is not None else None,
                timeout=settings.MEDIA_FETCH_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise StorageUnavailable(f"Cloudinary {action} failed: {exc}") from exc
        if response.status_code >= 400:
            raise StorageUnavailable(
                f"Cloudinary {action} answered {response.status_code}: {response.text[:200]}"
            )
        return response.json()

    def save(self, key: str, data: bytes, content_type: str) -> None:
        import cloudinary.utils

        public_id, _extension = self._public_id(key)
        params = cloudinary.utils.build_upload_params(
            public_id=public_id, overwrite=False, unique_filename=False, resource_type="image"
        )
        file = (PurePosixPath(key).name, data, content_type)
        self._call("upload", params, file=file)

    def read(self, key: str, *, max_bytes: int) -> bytes:
        try:
            response = requests.get(
                self.url(key), stream=True, timeout=settings.MEDIA_FETCH_TIMEOUT
            )
        except requests.RequestException as exc:
            raise StorageUnavailable(f"Cloudinary read failed: {exc}") from exc
        with response:
            if response.status_code == 404:
                raise StoredObjectMissing(key)
            if response.status_code >= 400:
                raise StorageUnavailable(f"Cloudinary answered {response.status_code}")
            data = bytearray()
            for chunk in response.iter_content(64 * 1024):
                data += chunk
                if len(data) > max_bytes:
                    raise MediaTooLarge(f"The file is larger than {max_bytes} bytes.")
            return bytes(data)

    def delete(self, key: str) -> None:
        public_id, _ = self._public_id(key)
        self._call(
            "destroy", {"public_id": public_id, "invalidate": True, "timestamp": int(time.time())}
        )

    def exists(self, key: str) -> bool:
        try:
            response = requests.head(self.url(key), timeout=settings.MEDIA_FETCH_TIMEOUT)
        except requests.RequestException as exc:
            raise StorageUnavailable(f"Cloudinary check failed: {exc}") from exc
        return response.status_code == 200

    def _delivery_url(self, key: str, **options: Any) -> str:
        import cloudinary.utils

        public_id, extension = self._public_id(key)
        options.setdefault("format", extension)
        url, _ = cloudinary.utils.cloudinary_url(
            public_id,
            cloud_name=self._credentials()["cloud_name"],
            secure=True,
            resource_type="image",
            type="upload",
            **options,
        )
        return url

    def url(self, key: str) -> str:
        return self._delivery_url(key)

    def thumbnail_url(self, stored: str) -> str:
        return stored  # Cloudinary thumbnails are stored as their transformation URLs

    def remote_thumbnail_urls(self, key: str, sizes: dict[str, int]) -> dict[str, str]:
        return {
            name: self._delivery_url(
                key,
                format="webp",
                transformation=[{"width": px, "height": px, "crop": "limit"}],
            )
            for name, px in sizes.items()
        }


_BACKENDS: dict[str, type[MediaStorage]] = {
    "filesystem": FilesystemMediaStorage,
    "s3": S3MediaStorage,
    "cloudinary": CloudinaryMediaStorage,
}


def storage_for(name: str) -> MediaStorage:
    try:
        return _BACKENDS[name]()
    except KeyError:
        raise ValueError(
            f"Unknown storage backend {name!r}; expected one of {sorted(_BACKENDS)}."
        ) from None


def current_storage() -> MediaStorage:
    return storage_for(settings.STORAGE_BACKEND)
