"""Product-type registry: each type declares its attribute schema and its variant options.

Adding a type is adding one `ProductType` subclass decorated with `@register`. The same
declaration validates input (types, required, enums, bounds, unknown keys refused) and is
published as JSON Schema by `GET /product-types`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Literal

from apps.catalog.errors import InvalidAttributes, InvalidOptions, UnknownProductType
from apps.core.errors import FieldError, field_error

Kind = Literal["string", "integer", "number", "boolean"]


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: Kind = "string"
    required: bool = False
    title: str = ""
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 100

    def upper_bound(self) -> int | None:
        # Overridden where the bound moves with time (a motorbike's model year).
        return self.maximum

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.kind, "title": self.title or self.name}
        if self.kind == "string":
            schema["maxLength"] = self.max_length
            schema["minLength"] = 1
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        upper = self.upper_bound()
        if upper is not None:
            schema["maximum"] = upper
        return schema

    def validate(self, value: Any) -> tuple[str, str] | None:
        """(code, detail) of the first problem with `value`, or None when it is valid."""
        if self.kind == "string":
            if not isinstance(value, str):
                return "invalid_type", f"Must be a string, not {_json_type(value)}."
            if not value.strip():
                return "blank", "May not be blank."
            if len(value) > self.max_length:
                return "max_length", f"At most {self.max_length} characters."
        elif self.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                return "invalid_type", f"Must be an integer, not {_json_type(value)}."
        elif self.kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return "invalid_type", f"Must be a number, not {_json_type(value)}."
        elif self.kind == "boolean" and not isinstance(value, bool):
            return "invalid_type", f"Must be a boolean, not {_json_type(value)}."
        if self.enum is not None and value not in self.enum:
            return "invalid_choice", f"Must be one of: {', '.join(self.enum)}."
        if self.minimum is not None and value < self.minimum:
            return "min_value", f"Must be at least {self.minimum}."
        upper = self.upper_bound()
        if upper is not None and value > upper:
            return "max_value", f"Must be at most {upper}."
        return None

    def coerce_query_value(self, raw: str) -> Any:
        """A query-string value (`attr.engine_cc=650`) as the JSON value it must equal."""
        if self.kind == "integer":
            return int(raw)
        if self.kind == "number":
            return float(raw)
        if self.kind == "boolean":
            if raw.lower() in ("true", "1"):
                return True
            if raw.lower() in ("false", "0"):
                return False
            raise ValueError(raw)
        return raw


@dataclass(frozen=True)
class ModelYear(Attribute):
    """A year no later than next year (new models are announced ahead)."""

    def upper_bound(self) -> int | None:
        return date.today().year + 1  # noqa: DTZ011 - a calendar year, no time of day involved


@dataclass(frozen=True)
class VariantOption:
    """An axis variants differ on. `values` None means free text (at most 40 characters)."""

    name: str
    values: tuple[str, ...] | None = None

    def json_schema(self) -> dict[str, Any]:
        if self.values is None:
            return {"type": "string", "minLength": 1, "maxLength": 40}
        return {"type": "string", "enum": list(self.values)}

    def validate(self, value: Any) -> tuple[str, str] | None:
        if not isinstance(value, str):
            return "invalid_type", f"Must be a string, not {_json_type(value)}."
        if not value.strip():
            return "blank", "May not be blank."
        if self.values is not None and value not in self.values:
            return "invalid_choice", f"Must be one of: {', '.join(self.values)}."
        if len(value) > 40:
            return "max_length", "At most 40 characters."
        return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class ProductType:
    type: ClassVar[str]
    name: ClassVar[str]
    attributes: ClassVar[tuple[Attribute, ...]]
    variant_options: ClassVar[tuple[VariantOption, ...]]

    @classmethod
    def attribute(cls, name: str) -> Attribute | None:
        return next((a for a in cls.attributes if a.name == name), None)

    @classmethod
    def attributes_schema(cls) -> dict[str, Any]:
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"{cls.name} attributes",
            "type": "object",
            "properties": {a.name: a.json_schema() for a in cls.attributes},
            "required": [a.name for a in cls.attributes if a.required],
            "additionalProperties": False,
        }

    @classmethod
    def variant_options_schema(cls) -> list[dict[str, Any]]:
        return [{"name": o.name, **o.json_schema()} for o in cls.variant_options]

    @classmethod
    def attribute_errors(cls, attributes: Any, *, pointer: str = "/attributes") -> list[FieldError]:
        if not isinstance(attributes, Mapping):
            return [field_error(pointer, "invalid_type", "Must be an object.")]
        errors: list[FieldError] = []
        for attribute in cls.attributes:
            if attribute.name not in attributes:
                if attribute.required:
                    errors.append(
                        field_error(
                            f"{pointer}/{attribute.name}",
                            "required",
                            f"{attribute.name} is required for {cls.type} products.",
                        )
                    )
                continue
            problem = attribute.validate(attributes[attribute.name])
            if problem:
                errors.append(field_error(f"{pointer}/{attribute.name}", problem[0], problem[1]))
        known = {a.name for a in cls.attributes}
        for key in attributes:
            if key not in known:
                errors.append(
                    field_error(
                        f"{pointer}/{_escape(str(key))}",
                        "unknown_attribute",
                        (
                            f"{cls.type} products have no attribute {key!r}; "
                            f"known: {', '.join(sorted(known))}."
                        ),
                    )
                )
        return errors

    @classmethod
    def validate_attributes(cls, attributes: Any, *, pointer: str = "/attributes") -> dict:
        """The attributes if valid; raises InvalidAttributes listing every problem."""
        errors = cls.attribute_errors(attributes, pointer=pointer)
        if errors:
            raise InvalidAttributes(
                f"The attributes do not match the {cls.type} schema.", errors=errors
            )
        return dict(attributes)

    @classmethod
    def option_errors(cls, options: Any, *, pointer: str = "/options") -> list[FieldError]:
        if not isinstance(options, Mapping):
            return [field_error(pointer, "invalid_type", "Must be an object.")]
        errors: list[FieldError] = []
        declared = {o.name: o for o in cls.variant_options}
        for key, value in options.items():
            option = declared.get(key)
            if option is None:
                errors.append(
                    field_error(
                        f"{pointer}/{_escape(str(key))}",
                        "unknown_option",
                        (
                            f"{cls.type} variants have no option {key!r}; "
                            f"known: {', '.join(declared) or 'none'}."
                        ),
                    )
                )
                continue
            problem = option.validate(value)
            if problem:
                errors.append(field_error(f"{pointer}/{key}", problem[0], problem[1]))
        return errors

    @classmethod
    def validate_options(cls, options: Any, *, pointer: str = "/options") -> dict:
        errors = cls.option_errors(options, pointer=pointer)
        if errors:
            raise InvalidOptions(
                f"The options do not match the {cls.type} variant options.", errors=errors
            )
        return dict(options)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


REGISTRY: dict[str, type[ProductType]] = {}


def register(cls: type[ProductType]) -> type[ProductType]:
    REGISTRY[cls.type] = cls
    return cls


def get_product_type(type_name: Any, *, pointer: str = "/type") -> type[ProductType]:
    product_type = REGISTRY.get(type_name) if isinstance(type_name, str) else None
    if product_type is None:
        raise UnknownProductType(
            f"Unknown product type {type_name!r}.",
            errors=[
                field_error(pointer, "invalid_choice", f"Must be one of: {', '.join(REGISTRY)}.")
            ],
        )
    return product_type


def attribute_by_name(name: str) -> Attribute | None:
    """The declaration of an attribute name in any type (used by the `attr.<name>` filter)."""
    for product_type in REGISTRY.values():
        attribute = product_type.attribute(name)
        if attribute is not None:
            return attribute
    return None


CLOTHING_SIZES = ("XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "one-size")


@register
class Electronics(ProductType):
    type = "electronics"
    name = "Electronics"
    attributes = (
        Attribute("manufacturer", required=True, title="Manufacturer"),
        Attribute("model", title="Model"),
        Attribute("color", max_length=40, title="Color"),
        Attribute("warranty_months", "integer", minimum=0, maximum=120, title="Warranty (months)"),
    )
    # Phones, laptops and the like come in colours and storage sizes ("128 GB").
    variant_options = (VariantOption("color"), VariantOption("storage"))


@register
class Clothing(ProductType):
    type = "clothing"
    name = "Clothing"
    attributes = (
        Attribute("brand", required=True, title="Brand"),
        Attribute("size", enum=CLOTHING_SIZES, title="Size"),
        Attribute("material", title="Material"),
        Attribute("color", max_length=40, title="Color"),
    )
    variant_options = (VariantOption("size", CLOTHING_SIZES), VariantOption("color"))


@register
class Furniture(ProductType):
    type = "furniture"
    name = "Furniture"
    attributes = (
        Attribute("brand", required=True, title="Brand"),
        Attribute("material", title="Material"),
        Attribute("dimensions", title="Dimensions (W x D x H)"),
        Attribute("color", max_length=40, title="Color"),
    )
    # The same piece in several finishes; dimensions differ enough to be separate products.
    variant_options = (VariantOption("color"),)


@register
class Motorbike(ProductType):
    type = "motorbike"
    name = "Motorbike"
    attributes = (
        Attribute("manufacturer", required=True, title="Manufacturer"),
        Attribute("model", title="Model"),
        Attribute("engine_cc", "integer", minimum=50, maximum=3000, title="Engine (cc)"),
        ModelYear("year", "integer", minimum=1900, title="Model year"),
        Attribute("color", max_length=40, title="Color"),
    )
    variant_options = (VariantOption("color"),)
