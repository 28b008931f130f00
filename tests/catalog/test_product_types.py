import pytest

from apps.catalog.errors import InvalidAttributes, InvalidOptions, UnknownProductType
from apps.catalog.product_types import REGISTRY, get_product_type
from tests.catalog.factories import VALID_ATTRIBUTES

pytestmark = pytest.mark.django_db

REQUIRED = {
    "electronics": "manufacturer",
    "clothing": "brand",
    "furniture": "brand",
    "motorbike": "manufacturer",
}
# One attribute per type given a value of the wrong JSON type.
WRONG_TYPE = {
    "electronics": ("warranty_months", "two years"),
    "clothing": ("material", 42),
    "furniture": ("dimensions", ["120", "60"]),
    "motorbike": ("engine_cc", "600"),
}


def _errors(type_name, attributes):
    with pytest.raises(InvalidAttributes) as info:
        REGISTRY[type_name].validate_attributes(attributes)
    return info.value.errors


@pytest.mark.parametrize("type_name", list(VALID_ATTRIBUTES))
def test_valid_attributes_pass_unchanged(type_name):
    attributes = VALID_ATTRIBUTES[type_name]
    assert REGISTRY[type_name].validate_attributes(attributes) == attributes


@pytest.mark.parametrize("type_name", list(VALID_ATTRIBUTES))
def test_only_the_required_attribute_is_enough(type_name):
    required = REQUIRED[type_name]
    attributes = {required: "Acme"}
    assert REGISTRY[type_name].validate_attributes(attributes) == attributes


@pytest.mark.parametrize("type_name", list(VALID_ATTRIBUTES))
def test_missing_required_attribute_is_pointed_at(type_name):
    attributes = dict(VALID_ATTRIBUTES[type_name])
    del attributes[REQUIRED[type_name]]
    assert _errors(type_name, attributes) == [
        {
            "pointer": f"/attributes/{REQUIRED[type_name]}",
            "code": "required",
            "detail": f"{REQUIRED[type_name]} is required for {type_name} products.",
        }
    ]


@pytest.mark.parametrize("type_name", list(VALID_ATTRIBUTES))
def test_wrong_type_is_pointed_at(type_name):
    name, value = WRONG_TYPE[type_name]
    errors = _errors(type_name, {**VALID_ATTRIBUTES[type_name], name: value})
    assert [(e["pointer"], e["code"]) for e in errors] == [(f"/attributes/{name}", "invalid_type")]


@pytest.mark.parametrize("type_name", list(VALID_ATTRIBUTES))
def test_unknown_key_is_refused(type_name):
    errors = _errors(type_name, {**VALID_ATTRIBUTES[type_name], "horsepower": 5})
    assert [(e["pointer"], e["code"]) for e in errors] == [
        ("/attributes/horsepower", "unknown_attribute")
    ]


def test_every_problem_is_reported_at_once():
    errors = _errors("motorbike", {"engine_cc": 10, "year": 1800, "colour": "red"})
    assert sorted((e["pointer"], e["code"]) for e in errors) == [
        ("/attributes/colour", "unknown_attribute"),
        ("/attributes/engine_cc", "min_value"),
        ("/attributes/manufacturer", "required"),
        ("/attributes/year", "min_value"),
    ]


def test_bounds_enums_and_blank():
    assert _errors("electronics", {"manufacturer": "A", "warranty_months": 121})[0]["code"] == (
        "max_value"
    )
    assert _errors("electronics", {"manufacturer": "   "})[0]["code"] == "blank"
    assert _errors("clothing", {"brand": "B", "size": "huge"})[0]["code"] == "invalid_choice"
    assert _errors("motorbike", {"manufacturer": "M", "year": 2999})[0]["code"] == "max_value"
    # A boolean is not an integer, even though Python says so.
    assert _errors("motorbike", {"manufacturer": "M", "engine_cc": True})[0]["code"] == (
        "invalid_type"
    )


def test_attributes_must_be_an_object():
    assert _errors("furniture", ["brand"]) == [
        {"pointer": "/attributes", "code": "invalid_type", "detail": "Must be an object."}
    ]


def test_variant_options_use_the_types_axes():
    clothing = REGISTRY["clothing"]
    assert clothing.validate_options({"size": "L", "color": "red"}) == {"size": "L", "color": "red"}
    with pytest.raises(InvalidOptions) as info:
        clothing.validate_options({"size": "giant", "storage": "1TB"})
    assert sorted((e["pointer"], e["code"]) for e in info.value.errors) == [
        ("/options/size", "invalid_choice"),
        ("/options/storage", "unknown_option"),
    ]


def test_unknown_type():
    with pytest.raises(UnknownProductType) as info:
        get_product_type("spaceship")
    assert info.value.errors[0]["pointer"] == "/type"


def test_product_types_endpoint_publishes_json_schema(api_client):
    response = api_client.get("/api/v1/product-types")
    assert response.status_code == 200
    body = {item["type"]: item for item in response.json()}
    assert list(body) == ["electronics", "clothing", "furniture", "motorbike"]
    clothing = body["clothing"]
    assert clothing["name"] == "Clothing"
    schema = clothing["attributes_schema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["brand"]
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"brand", "size", "material", "color"}
    assert schema["properties"]["size"]["enum"][:3] == ["XXS", "XS", "S"]
    assert [o["name"] for o in clothing["variant_options"]] == ["size", "color"]
    motorbike = body["motorbike"]["attributes_schema"]["properties"]
    assert motorbike["engine_cc"] == {
        "type": "integer",
        "title": "Engine (cc)",
        "minimum": 50,
        "maximum": 3000,
    }
    assert [o["name"] for o in body["electronics"]["variant_options"]] == ["color", "storage"]
    assert [o["name"] for o in body["furniture"]["variant_options"]] == ["color"]


def test_product_types_endpoint_runs_no_queries(api_client, django_assert_num_queries):
    # The registry lives in code: however many types and attributes it declares, no query.
    with django_assert_num_queries(0):
        assert len(api_client.get("/api/v1/product-types").json()) == len(REGISTRY)
