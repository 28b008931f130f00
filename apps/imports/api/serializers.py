from rest_framework import serializers

from apps.imports.models import ImportJob


class ImportCreateInput(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV (UTF-8) or XLSX; the first row names the columns. At most "
        "IMPORT_MAX_BYTES (10 MB) and IMPORT_MAX_ROWS (50,000) rows."
    )
    kind = serializers.ChoiceField(
        choices=ImportJob.Kind.choices,
        help_text="`products`: products with variants, prices and initial stock; `stock`: "
        "counted on_hand and low-stock thresholds by SKU.",
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="Only check the file and report; nothing is saved."
    )


class RowErrorOutput(serializers.Serializer):
    row = serializers.IntegerField(help_text="1 = the first row under the header; 0 = the file.")
    column = serializers.CharField(allow_null=True)
    detail = serializers.CharField()


class CountsOutput(serializers.Serializer):
    new = serializers.IntegerField(source="rows_new")
    updated = serializers.IntegerField(source="rows_updated")
    skipped = serializers.IntegerField(source="rows_skipped", help_text="Unchanged rows.")
    invalid = serializers.IntegerField(source="rows_invalid")


class ImportJobOutput(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    format = serializers.CharField()
    file_name = serializers.CharField()
    dry_run = serializers.BooleanField()
    status = serializers.ChoiceField(choices=ImportJob.Status.choices)
    rows_total = serializers.IntegerField()
    rows_processed = serializers.IntegerField(help_text="Rows read so far.")
    counts = CountsOutput(source="*")
    # A declared field is popped off the class by DRF's metaclass: Serializer.errors stays as it
    # is. The stubs cannot model that.
    errors = RowErrorOutput(  # type: ignore[assignment]
        many=True, help_text="Each problem of each refused row (at most 1000)."
    )
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
