"""Admin forms of the catalog. A product's attributes and its variants' options are checked by
the checks the API runs (the product-type registry, `variant_options_check`,
`variant_list_errors`), and each problem is shown on the field it concerns as one readable line
(`engine_cc: Must be at most 3000.`)."""

from typing import Any

from django import forms
from django.forms.models import BaseInlineFormSet

from apps.catalog.errors import DuplicateVariant, InvalidOptions, UnknownProductType
from apps.catalog.models import Product, ProductVariant
from apps.catalog.product_types import REGISTRY, FieldError
from apps.catalog.services import variant_list_errors, variant_options_check


def error_lines(errors: list[FieldError], *, under: str) -> list[str]:
    """Registry errors as lines for staff: the pointer below `under`, unescaped, then the
    detail (`/attributes/engine_cc` under `/attributes` reads `engine_cc: ...`)."""
    lines = []
    for error in errors:
        where = error["pointer"].removeprefix(under).lstrip("/")
        where = where.replace("~1", "/").replace("~0", "~")
        lines.append(f"{where}: {error['detail']}" if where else error["detail"])
    return lines


class ProductAdminForm(forms.ModelForm):
    type = forms.ChoiceField(choices=[(t, REGISTRY[t].name) for t in REGISTRY])

    class Meta:
        model = Product
        fields = ("shop", "type", "name", "slug", "description", "category", "attributes")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        product_type = REGISTRY.get(data.get("type", ""))
        # The attributes are checked against the type in the form, so a changed type re-checks
        # them; the variants are re-checked against it by VariantInlineFormSet.
        if product_type is not None and "attributes" in data:
            errors = product_type.attribute_errors(data["attributes"])
            for line in error_lines(errors, under="/attributes"):
                self.add_error("attributes", line)
        return data


class VariantInlineFormSet(BaseInlineFormSet):
    """The variant rows of the product change form, checked together against the product's type
    as `product_create` checks a new product's variants: options allowed by the type, no two rows
    with the same options or SKU.

    The type is the one being saved: the admin validates the product form before the inline
    formsets, and that validation sets `instance.type` (this formset's instance) to the submitted
    type, so changing a product's type re-checks every variant against the new one."""

    def clean(self) -> None:
        super().clean()
        product_type = REGISTRY.get(self.instance.type)
        if product_type is None:
            return  # an unknown type is the product form's error
        rows = [
            form
            for index, form in enumerate(self.forms)
            if hasattr(form, "cleaned_data")
            and not self._should_delete_form(form)
            and (index < self.initial_form_count() or form.has_changed())  # not an empty extra
            and not form.has_error("options")  # not JSON: the form already says so
        ]
        variants = [
            {
                "options": form.cleaned_data.get("options", form.instance.options),
                "sku": form.cleaned_data.get("sku"),
                "price": form.cleaned_data.get("price"),
            }
            for form in rows
        ]
        # A missing price or a taken SKU is already the row's own error: not said twice.
        already = {(index, field) for index, form in enumerate(rows) for field in form.errors}
        for error in variant_list_errors(product_type=product_type, variants=variants):
            _, _, index, field, *_ = error["pointer"].split("/")  # /variants/<index>/<field>...
            form = rows[int(index)]
            if field in form.fields and (int(index), field) not in already:
                (line,) = error_lines([error], under=f"/variants/{index}/{field}")
                form.add_error(field, line)


class VariantAdminForm(forms.ModelForm):
    """One variant on its own change page: options checked as `variant_update` checks them
    (against the product's type, unlike the product's other variants)."""

    class Meta:
        model = ProductVariant
        fields = ("product", "sku", "options", "price", "is_active", "position")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        product = data.get("product") or (
            self.instance.product if self.instance.product_id else None
        )
        if product is None or "options" not in data:
            return data
        try:
            data["options"] = variant_options_check(
                product=product, options=data["options"], exclude=self.instance.pk
            )
        except (InvalidOptions, UnknownProductType) as exc:
            for line in error_lines(exc.errors, under="/options"):
                self.add_error("options", line)
        except DuplicateVariant as exc:
            self.add_error("options", exc.detail)
        return data
