"""Admin change forms that save through services: a domain refusal raised while saving (a rule
the form could not check, or rows that changed in between) rolls the save back (the admin runs
it in one transaction) and shows the form again, with the user's input, the refusal on the
fields its pointers name (`/code` → `code`) and the rest above the form, instead of a 500."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from apps.core.errors import DomainError, InvalidInput

_REFUSAL_ATTR = "_service_refusal"


def _field_errors(exc: DomainError, fields: Any) -> list[tuple[str | None, str]]:
    """(form field or None, message) for each of the refusal's errors."""
    errors = exc.errors if isinstance(exc, InvalidInput) and exc.errors else []
    if not errors:
        return [(None, str(exc.detail))]
    out: list[tuple[str | None, str]] = []
    for error in errors:
        name = str(error.get("pointer", "")).strip("/").split("/")[0]
        if name.endswith("_ids") and name[:-4] + "s" in fields:  # product_ids → products
            name = name[:-4] + "s"
        out.append((name if name in fields else None, str(error.get("detail") or exc.detail)))
    return out


class ServiceRefusalsAdmin(admin.ModelAdmin):
    def get_form(self, request: Any, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        if getattr(request, _REFUSAL_ATTR, None) is None:
            return form_class
        refusal: DomainError = getattr(request, _REFUSAL_ATTR)

        class RefusedForm(form_class):  # type: ignore[valid-type, misc]
            def clean(self) -> Any:
                cleaned = super().clean()
                for name, message in _field_errors(refusal, self.fields):
                    self.add_error(name, forms.ValidationError(message))
                return cleaned

        return RefusedForm

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            if request.method != "POST" or getattr(request, _REFUSAL_ATTR, None) is not None:
                raise
            # Once more with the refusal attached: the form is invalid, nothing is saved and the
            # page shows the input with the errors.
            setattr(request, _REFUSAL_ATTR, exc)
            return super().changeform_view(request, object_id, form_url, extra_context)
