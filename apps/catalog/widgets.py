"""Form inputs for a product's attributes and a variant's options, drawn from the product type's
schema (apps.catalog.product_types) instead of a raw JSON box: a list for enumerations and for
options with fixed values, a number input with the bounds for numbers, a text input with the
length limit otherwise, the required attributes marked.

The type is the form's own `type` field when the form has one (a product: the inputs of every
type are drawn, and a small script shows those of the chosen type), or the one the form is
given (a variant: its product's type). Values are read as the type declares them (`engine_cc`
a whole number); a value that is not what it should be is passed on as typed, so the form's
check (the API's own) reports it on the field. A blank input is an absent key."""

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from django import forms

from apps.catalog.product_types import REGISTRY, ProductType

ATTRIBUTES, OPTIONS = "attributes", "options"


@dataclass(frozen=True)
class Input:
    key: str
    name: str  # the HTML input's name
    label: str
    kind: str  # string, integer, number, boolean
    required: bool
    choices: tuple[str, ...] | None
    minimum: int | None
    maximum: int | None
    max_length: int | None
    value: str


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class SchemaWidget(forms.Widget):
    template_name = "catalog/widgets/schema.html"

    class Media:
        js = ("catalog/js/schema_widget.js",)

    def __init__(self, part: str, product_type: str | None = None, type_field: str = "type"):
        super().__init__()
        self.part, self.product_type, self.type_field = part, product_type, type_field

    def _types(self) -> list[type[ProductType]]:
        if self.product_type in REGISTRY:
            return [REGISTRY[self.product_type]]
        return list(REGISTRY.values())

    def _inputs(self, name: str, product_type: type[ProductType], value: Any) -> list[Input]:
        values = value if isinstance(value, dict) else {}
        if self.part == ATTRIBUTES:
            return [
                Input(
                    key=a.name,
                    name=f"{name}.{product_type.type}.{a.name}",
                    label=a.title or a.name,
                    kind=a.kind,
                    required=a.required,
                    choices=a.enum,
                    minimum=a.minimum,
                    maximum=a.upper_bound(),
                    max_length=a.max_length if a.kind == "string" else None,
                    value=_text(values.get(a.name)),
                )
                for a in product_type.attributes
            ]
        return [
            Input(
                key=o.name,
                name=f"{name}.{product_type.type}.{o.name}",
                label=o.name,
                kind="string",
                required=False,
                choices=o.values,
                minimum=None,
                maximum=None,
                max_length=40,
                value=_text(values.get(o.name)),
            )
            for o in product_type.variant_options
        ]

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        types = self._types()
        context["groups"] = [
            {"type": t.type, "title": t.name, "inputs": self._inputs(name, t, value)} for t in types
        ]
        context["several"] = len(types) > 1
        context["type_field"] = self.type_field
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> dict[str, Any] | None:
        type_name = self.product_type or data.get(self.type_field)
        product_type = REGISTRY.get(type_name) if isinstance(type_name, str) else None
        if product_type is None:
            return None  # an unknown type: the type field says so
        read: dict[str, Any] = {}
        for item in self._inputs(name, product_type, {}):
            raw = str(data.get(item.name, "")).strip()
            if not raw:
                continue
            read[item.key] = raw
            declared = product_type.attribute(item.key) if self.part == ATTRIBUTES else None
            if declared is not None and declared.kind != "string":
                with suppress(ValueError):  # kept as text: the schema check says what it must be
                    read[item.key] = declared.coerce_query_value(raw)
        return read

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return False  # every input left blank is an empty object, not an omitted field


class SchemaField(forms.Field):
    """A product's attributes or a variant's options as a dict (checked by the form)."""

    def __init__(self, part: str, product_type: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(widget=SchemaWidget(part, product_type), **kwargs)

    def to_python(self, value: Any) -> dict[str, Any]:
        return dict(value) if isinstance(value, dict) else {}

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(initial) != self.to_python(data)
