"""GET /api/v1/ is an index; a path that only differs from a route by a trailing slash gets a
404 whose detail names the right path; the API accepts the content types its schema declares."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from apps.users.models import User

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def test_the_index_links_to_the_docs_the_schema_and_the_top_level_resources(api_client):
    response = api_client.get("/api/v1/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["name"] == "Marketplace API"
    assert body["docs"] == "http://testserver/api/docs/"
    assert body["redoc"] == "http://testserver/api/redoc/"
    assert body["schema"] == "http://testserver/api/schema/"
    resources = body["resources"]
    for name in ("products", "categories", "product-types", "shops", "cart", "orders", "me"):
        assert resources[name] == f"http://testserver/api/v1/{name}"
    # Only routes of one segment without parameters: no `auth/login`, no `products/<ident>`.
    assert all("/" not in name and "<" not in name for name in resources)


def test_every_resource_the_index_lists_exists(api_client, user_client):
    for url in api_client.get("/api/v1/").json()["resources"].values():
        path = url.removeprefix("http://testserver")
        # Signed in, so that user-only resources answer too; staff-only ones answer 403,
        # upload-only ones (POST /media) 405, /health 503 when a dependency is slow.
        assert user_client.get(path).status_code in (200, 403, 405, 503), path


def test_the_index_is_in_the_schema(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/"]["get"]
    assert operation["operationId"] == "api_index"
    assert {} in operation["security"]


@pytest.mark.parametrize("debug", [False, True])
def test_a_trailing_slash_404_names_the_path_without_it(api_client, debug):
    with override_settings(DEBUG=debug):
        response = api_client.get("/api/v1/products/")

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "not_found"
    assert body["detail"] == (
        "No endpoint at /api/v1/products/. Did you mean /api/v1/products? "
        "API paths have no trailing slash."
    )


def test_a_path_that_does_not_exist_either_way_gets_no_hint(api_client):
    response = api_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["detail"] == "No endpoint at /api/v1/no-such-thing/."


def test_json_endpoints_refuse_form_bodies_with_415(api_client):
    """The schema declares application/json only; a form body is refused, not read as empty."""
    response = api_client.post(
        "/api/v1/auth/signup",
        "email=form%40example.com&password=correct-horse-battery",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "request.unsupported_media_type"
    assert not User.objects.filter(email="form@example.com").exists()


def test_json_endpoints_refuse_multipart_bodies_with_415(api_client):
    response = api_client.post(
        "/api/v1/auth/signup",
        {"email": "form@example.com", "password": "correct-horse-battery"},
        format="multipart",
    )

    assert response.status_code == 415
    assert not User.objects.filter(email="form@example.com").exists()


def test_the_upload_endpoint_takes_multipart_only(user_client):
    refused = user_client.post("/api/v1/media", {"url": "https://example.com/a.png"}, format="json")
    assert refused.status_code == 415
    form = user_client.post(
        "/api/v1/media",
        {"file": SimpleUploadedFile("a.txt", b"not an image", content_type="text/plain")},
        format="multipart",
    )
    assert form.status_code == 400  # parsed, then refused as not an image
