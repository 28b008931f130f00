"""Admin forms of the catalog. A product's attributes, its category and its variants' options are
checked by the checks the API runs (the product-type registry, `product_category_check`,
`variant_options_check`, `variant_list_errors`), and each problem is shown on the field it
concerns as one readable line (`engine_cc: Must be at most 3000.`). Deleting and deactivating
variants are checked by `variant_removal_check` before anything is saved, then done by the
services `variant_delete` and `variant_update`, which check again under their locks."""

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from apps.catalog.errors import (
    DuplicateVariant,
    InvalidOptions,
    InvalidProduct,
    LastVariant,
    ProductArchived,
    UnknownProductType,
    VariantInUse,
)
from apps.catalog.models import Product, ProductVariant
from apps.catalog.product_types import REGISTRY
from apps.catalog.services import (
    product_category_check,
    product_change_check,
    variant_delete,
    variant_list_errors,
    variant_options_check,
    variant_removal_check,
    variant_update,
)
from apps.catalog.widgets import ATTRIBUTES, OPTIONS, SchemaField
from apps.core.errors import FieldError
from apps.core.slugs import as_uuid

# What the services refuse when variants are deleted or deactivated.
REMOVAL_REFUSALS = (LastVariant, VariantInUse, ProductArchived)


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
    attributes = SchemaField(ATTRIBUTES)  # the inputs of the type chosen in `type`

    class Meta:
        model = Product
        fields = ("shop", "type", "name", "slug", "description", "category", "attributes")

    def clean(self) -> dict[str, Any]:
        # ModelForm.clean returns cleaned_data; the stubs say `| None` for every form's clean.
        data = cast(dict[str, Any], super().clean())
        product_type = REGISTRY.get(data.get("type", ""))
        # The attributes are checked against the type in the form, so a changed type re-checks
        # them; the variants are re-checked against it by VariantInlineFormSet.
        if product_type is not None and "attributes" in data:
            errors = product_type.attribute_errors(data["attributes"])
            for line in error_lines(errors, under="/attributes"):
                self.add_error("attributes", line)
        self._category_check(data)
        return data

    def _category_check(self, data: dict[str, Any]) -> None:
        """A chosen category must be global or the product's shop's, as `product_create` and
        `product_update` require. The shop is read-only once the product exists (the admin
        leaves it out of the form), so it comes from the instance then."""
        shop = data.get("shop") if "shop" in self.fields else self.instance.shop
        category = data.get("category")
        if shop is None or category is None or "category" not in self.changed_data:
            return
        try:
            product_category_check(shop=shop, category=category)
        except InvalidProduct as exc:
            for line in error_lines(exc.errors, under="/category"):
                self.add_error(
                    "category",
                    f"{line} A product may use a global category or one of its shop's ({shop}).",
                )


class VariantInlineFormSet(BaseInlineFormSet):
    """The variant rows of the product change form, checked together against the product's type
    as `product_create` checks a new product's variants: options allowed by the type, no two rows
    with the same options or SKU.

    The type is the one being saved: the admin validates the product form before the inline
    formsets, and that validation sets `instance.type` (this formset's instance) to the submitted
    type, so changing a product's type re-checks every variant against the new one.

    Rows deleted or unticked `is_active` go through the API's services: `clean` refuses the whole
    form when `variant_removal_check` refuses them taken together (last variant, last active
    variant of a published product, reserved stock), and `save` deletes and deactivates them with
    `variant_delete` and `variant_update` (set `actor` first), after saving the other rows. Rows
    activated or added in the same save do not count as active for the check: save them first.
    """

    actor: Any = None  # who saves: the admin sets it before calling save()

    def add_fields(self, form: forms.ModelForm, index: int | None) -> None:
        super().add_fields(form, index)
        # The options of the product's type; a new product's: those of the type it is given.
        form.fields["options"] = SchemaField(OPTIONS, product_type=self.instance.type or None)

    # The `type: ignore[attr-defined]`s below: BaseFormSet._should_delete_form is private Django
    # API (what `deleted_forms` uses), absent from the stubs.

    def clean(self) -> None:
        super().clean()
        self._rows_check()
        self._removals_check()

    def _removals(self) -> tuple[list[ProductVariant], list[ProductVariant]]:
        """The stored variants this form deletes, and those it deactivates."""
        deleting, deactivating = [], []
        for form in self.initial_forms:
            if form.instance.pk is None or not hasattr(form, "cleaned_data"):
                continue
            if self._should_delete_form(form):  # type: ignore[attr-defined]
                deleting.append(form.instance)
            elif _deactivates(form):
                deactivating.append(form.instance)
        return deleting, deactivating

    def _removals_check(self) -> None:
        deleting, deactivating = self._removals()
        if not (deleting or deactivating):
            return
        try:
            variant_removal_check(
                product=self.instance,
                delete=[variant.pk for variant in deleting],
                deactivate=[variant.pk for variant in deactivating],
            )
        except REMOVAL_REFUSALS as exc:
            raise ValidationError(exc.detail, code=exc.code) from exc

    def save(self, commit: bool = True) -> list[ProductVariant]:
        """Saves the edited and new rows, then deactivates with `variant_update` and deletes with
        `variant_delete`, in that order, so each removal is checked against what is left. A
        refusal raised here (the variants changed since `clean`) rolls back the admin's save."""
        if not commit:
            raise ValueError("Variant rows are saved through the services: commit=True only.")
        self.changed_objects, self.deleted_objects = [], []
        saved, deactivating = [], []
        for form in self.initial_forms:
            variant = form.instance
            if variant.pk is None or self._should_delete_form(form) or not form.has_changed():  # type: ignore[attr-defined]
                continue
            self.changed_objects.append((variant, form.changed_data))
            if _deactivates(form):
                deactivating.append(variant)
                if form.changed_data == ["is_active"]:
                    continue
                variant.is_active = True  # stays active until variant_update deactivates it
            saved.append(self.save_existing(form, variant, commit=True))
        saved.extend(self.save_new_objects(commit=True))
        for variant in deactivating:
            variant_update(actor=self.actor, variant=variant, data={"is_active": False})
            variant.is_active = False
        for form in self.initial_forms:
            if form.instance.pk is not None and self._should_delete_form(form):  # type: ignore[attr-defined]
                variant_delete(actor=self.actor, variant=form.instance)
                self.deleted_objects.append(form.instance)
        return saved

    def _rows_check(self) -> None:
        product_type = REGISTRY.get(self.instance.type)
        if product_type is None:
            return  # an unknown type is the product form's error
        rows = [
            form
            for index, form in enumerate(self.forms)
            if hasattr(form, "cleaned_data")
            and not self._should_delete_form(form)  # type: ignore[attr-defined]
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


def _deactivates(form: forms.ModelForm) -> bool:
    """The form unticks `is_active` of a stored variant."""
    return (
        form.instance.pk is not None
        and "is_active" in form.changed_data
        and form.cleaned_data.get("is_active") is False
    )


class VariantAdminForm(forms.ModelForm):
    """One variant on its own page: options checked as `variant_update` checks them (against the
    product's type, unlike the product's other variants); no variant added to an archived
    product; deactivating checked by `variant_removal_check` (the admin then saves a change with
    `variant_update`, which checks again)."""

    class Meta:
        model = ProductVariant
        fields = ("product", "sku", "options", "price", "is_active", "position")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The options of the product's type: the stored product's, or the one being chosen.
        product_id = self.instance.product_id or as_uuid(self.data.get("product"))
        product_type = (
            Product.objects.filter(pk=product_id).values_list("type", flat=True).first()
            if product_id
            else None
        )
        self.fields["options"] = SchemaField(OPTIONS, product_type=product_type)

    def clean(self) -> dict[str, Any]:
        data = cast(dict[str, Any], super().clean())  # cleaned_data, as in ProductAdminForm
        product = data.get("product") or (
            self.instance.product if self.instance.product_id else None
        )
        if product is None:
            return data
        try:
            product_change_check(product=product)
        except ProductArchived as exc:
            self.add_error("product" if "product" in self.fields else None, exc.detail)
            return data
        if _deactivates(self):
            try:
                variant_removal_check(product=product, deactivate=[self.instance.pk])
            except REMOVAL_REFUSALS as exc:
                self.add_error("is_active", exc.detail)
        if "options" not in data:
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
