"""Rules every operation of the OpenAPI schema follows, whichever app it comes from (see
docs/clients.md): a summary and a description, unique and meaningful component names, and
documented request examples that succeed on a freshly seeded demo database."""

import io
import json
import re
from collections import defaultdict

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.core.openapi import DEMO_LOGIN
from apps.shops.management.commands.seed_demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = re.compile(re.escape(DEMO_LOGIN).replace(r"\{\}", "([^`]+)"))


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_has_a_summary_and_a_description(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(schema)
        if not operation.get("summary", "").strip() or not operation.get("description", "").strip()
    ]
    assert missing == []


def test_summaries_are_short_headings_not_operation_ids(schema):
    for path, method, operation in operations(schema):
        summary = operation["summary"]
        assert len(summary) <= 80, (method, path, summary)
        assert summary != operation["operationId"], (method, path)
        assert not summary.endswith("."), (method, path, summary)


def test_operation_ids_are_unique(schema):
    ids = [operation["operationId"] for _, _, operation in operations(schema)]
    assert len(ids) == len(set(ids))


def test_component_names_are_unique_and_meaningful(schema):
    """Generators turn names into identifiers (`_ShopRefOutput` and `ShopRefOutput` both become
    the class ShopRefOutput): names must differ in more than case and punctuation."""
    names = list(schema["components"]["schemas"])
    by_identifier = defaultdict(list)
    for name in names:
        by_identifier[re.sub(r"[^a-z0-9]", "", name.lower())].append(name)
    assert {key: group for key, group in by_identifier.items() if len(group) > 1} == {}
    for name in names:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", name), name
        # drf-spectacular's fallbacks for names it could not choose: a hashed enum name or a
        # serializer without a name of its own.
        assert not re.search(r"[0-9a-f]{3,}Enum$|^Inline|Serializer", name), name


def documented_examples(schema):
    """(method, path, operation, example name, example) of every request body example."""
    for path, method, operation in operations(schema):
        content = operation.get("requestBody", {}).get("content", {})
        for body in content.values():
            for name, example in body.get("examples", {}).items():
                yield method, path, operation, name, example


def path_with_examples(path, operation):
    """The path with each parameter replaced by its documented example value."""
    values = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "path":
            continue
        examples = parameter.get("examples", {})
        if not examples:
            return None
        values[parameter["name"]] = str(next(iter(examples.values()))["value"])
    return re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], path)


def test_every_documented_example_request_succeeds_on_a_fresh_demo_database(schema):
    """Each example is sent as documented, by the demo login its description names, to a
    database seeded by `seed_demo` (one after the other: an example must not depend on, nor
    use up, what another one leaves)."""
    call_command("seed_demo", stdout=io.StringIO())
    examples = list(documented_examples(schema))
    assert {(method, path) for method, path, *_ in examples} >= {
        ("post", "/api/v1/auth/signup"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/cart/items"),
        ("post", "/api/v1/checkout/review"),
        ("post", "/api/v1/orders"),
    }
    tokens: dict[str, str] = {}

    def client_for(login):
        client = APIClient()
        if login is None:
            return client
        if login not in tokens:
            response = APIClient().post(
                "/api/v1/auth/login", {"email": login, "password": DEMO_PASSWORD}, format="json"
            )
            assert response.status_code == 200, (login, response.json())
            tokens[login] = response.json()["access"]
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens[login]}")
        return client

    failures = []
    for method, path, operation, name, example in examples:
        label = f"{method.upper()} {path} example {name!r}"
        url = path_with_examples(path, operation)
        if url is None:
            failures.append(f"{label}: a path parameter has no documented example value")
            continue
        match = LOGIN.search(example.get("description", ""))
        response = client_for(match.group(1) if match else None).generic(
            method.upper(), url, data=json.dumps(example["value"]), content_type="application/json"
        )
        if not 200 <= response.status_code < 300:
            failures.append(f"{label}: {response.status_code} {response.content[:300]!r}")
    assert failures == []
