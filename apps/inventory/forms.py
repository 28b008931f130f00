"""The admin's stock adjustment form: what `POST /seller/inventory/{id}/adjust` takes, checked the
same way (a non-zero delta within bounds, a known reason); the sign rules, the reserved floor and
the maximum are the service's (`stock_adjust`), whose refusals the admin shows on `delta`."""

from django import forms

from apps.inventory.services import ADJUST_REASONS

MAX_DELTA = 1_000_000  # as the API's StockAdjustInput


class StockAdjustForm(forms.Form):
    delta = forms.IntegerField(
        min_value=-MAX_DELTA,
        max_value=MAX_DELTA,
        help_text="Units to add (positive) or remove (negative) from on hand.",
    )
    reason = forms.ChoiceField(
        choices=[(reason, reason.capitalize()) for reason in ADJUST_REASONS],
        help_text="Restock and return add, damage removes, a correction goes either way.",
    )
    note = forms.CharField(max_length=255, required=False, help_text="Kept in the ledger.")

    def clean_delta(self) -> int:
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError("Must not be zero.", code="zero")
        return delta


class RestockForm(forms.Form):
    """Bulk restock from the changelist: the same quantity added to every selected item."""

    quantity = forms.IntegerField(min_value=1, max_value=MAX_DELTA)
    note = forms.CharField(max_length=255, required=False, help_text="Kept in the ledger.")
