import pytest

pytestmark = pytest.mark.django_db


def test_unknown_api_route_is_problem_json(api_client):
    response = api_client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
