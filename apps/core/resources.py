"""Spreadsheet import and export (django-import-export) done through the services.

Each app's `resources.py` declares its columns as a `ServiceResource`: rows are read into plain
objects, never saved with `Model.save()`; `save_instance` calls the app's services, and a
service's refusal becomes the row's error on the column its pointer names. An import is all or
nothing: every row runs in one transaction, which is rolled back when any row is refused (and
always for a dry run), so a dry run reports exactly what the real run would do. A row whose
values equal what is stored is skipped, so importing the same file twice changes nothing.

`row_errors(result)` lists the problems as `{row, column, detail}` (`row` 1 = the first row
under the header), as the admin's report and the seller import API show them."""

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from import_export import resources, widgets
from import_export.results import Result

from apps.core.errors import DomainError, InvalidInput

logger = logging.getLogger(__name__)


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class TextWidget(widgets.Widget):
    """Text, trimmed; a blank cell is None (not given). Numbers typed into a spreadsheet cell
    come back as their text (`1001`, not `1001.0`)."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str | None:
        if blank(value):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "" if value is None else str(value)


class MoneyWidget(TextWidget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Decimal | None:  # type: ignore[override]
        text = super().clean(value, row, **kwargs)
        if text is None:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError("Must be an amount such as 19.99.") from None
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
            raise ValueError("Must be an amount of 0 or more with at most two decimals.")
        if amount >= Decimal("10000000000"):
            raise ValueError("Must be less than 10,000,000,000.")
        return amount.quantize(Decimal("0.01"))


class CountWidget(TextWidget):
    """A whole number of units, 0 to `maximum`."""

    def __init__(self, maximum: int = 1_000_000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.maximum = maximum

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> int | None:  # type: ignore[override]
        text = super().clean(value, row, **kwargs)
        if text is None:
            return None
        try:
            count = int(text)
        except ValueError:
            raise ValueError("Must be a whole number.") from None
        if not 0 <= count <= self.maximum:
            raise ValueError(f"Must be between 0 and {self.maximum:,}.")
        return count


def column_field(
    column: str, widget: widgets.Widget | None = None, **kwargs: Any
) -> resources.Field:
    """A column whose errors are reported under its own name (import-export keys a row's
    errors by the field's attribute) and whose blank cell leaves the value as it is."""
    return resources.Field(
        attribute=column,
        column_name=column,
        widget=widget or TextWidget(),
        saves_null_values=False,
        **kwargs,
    )


def refusal_errors(exc: DomainError, columns: Mapping[str, str]) -> ValidationError:
    """A service's refusal as a row's column errors: each pointer's first segment that names a
    column (`/price`, `/variants/0/sku` → `sku`), else through `columns` (pointer segment or
    error code → column: `attributes` → `attr.`, `catalog.sku_taken` → `sku`); what names no
    column is the row's error."""
    errors: dict[str, list[str]] = {}
    pointed = exc.errors if isinstance(exc, InvalidInput) and exc.errors else []
    for error in pointed or [{"pointer": "", "detail": exc.detail}]:
        parts = [p for p in str(error.get("pointer", "")).split("/") if p]
        if parts[:1] == ["variants"]:
            parts = parts[2:]  # /variants/<index>/...: the row is one variant
        column = columns.get(exc.code, NON_FIELD_ERRORS)
        if parts:
            head = columns.get(parts[0], parts[0])
            column = head + parts[1] if head.endswith(".") and len(parts) > 1 else head
        errors.setdefault(column, []).append(str(error.get("detail") or exc.detail))
    return ValidationError(errors)


class ServiceResource(resources.Resource):
    """Rows saved through services, all or nothing, unchanged rows skipped. `progress`, when
    given, is called with the number of rows read so far every PROGRESS_EVERY rows."""

    PROGRESS_EVERY = 200

    def __init__(self, *, progress: Callable[[int], None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.progress = progress

    def after_import_row(self, row: Any, row_result: Any, **kwargs: Any) -> None:
        number = kwargs.get("row_number", 0)
        if self.progress is not None and number % self.PROGRESS_EVERY == 0:
            self.progress(number)

    @classmethod
    def get_display_name(cls) -> str:
        """The name the admin's import and export forms show (what ModelResource provides)."""
        return cls.__name__.removesuffix("Resource")

    def import_data(
        self,
        dataset: Any,
        dry_run: bool = False,
        raise_errors: bool = False,
        use_transactions: bool | None = None,
        collect_failed_rows: bool = False,
        rollback_on_validation_errors: bool = False,
        **kwargs: Any,
    ) -> Result:
        # Always in one transaction, rolled back when any row is refused: never half a file.
        return super().import_data(
            dataset,
            dry_run=dry_run,
            raise_errors=raise_errors,
            use_transactions=True,
            collect_failed_rows=collect_failed_rows,
            rollback_on_validation_errors=True,
            **kwargs,
        )


def row_errors(result: Result, *, limit: int = 1000) -> list[dict[str, Any]]:
    """The rows refused by an import, each problem as `{row, column, detail}` (`column` None for
    a problem of the whole row), in row order, at most `limit`. A file-level problem (a missing
    column) is reported as row 0."""
    problems: list[dict[str, Any]] = [
        {"row": 0, "column": None, "detail": str(error.error)} for error in result.base_errors
    ]
    for invalid in result.invalid_rows:
        for column, messages in invalid.error_dict.items():
            for message in messages:
                problems.append(
                    {
                        "row": invalid.number,
                        "column": None if column == NON_FIELD_ERRORS else column,
                        "detail": str(message),
                    }
                )
    for number, errors in result.row_errors():
        for error in errors:  # a bug, not the file's fault: logged, not shown
            logger.error("import row %s failed: %r", number, error.error, exc_info=error.error)
            problems.append(
                {"row": number, "column": None, "detail": "Unexpected error; the row was not read."}
            )
    problems.sort(key=lambda problem: problem["row"])
    return problems[:limit]
