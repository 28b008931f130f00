from apps.core.errors import InvalidInput, NotFound


class ImportJobNotFound(NotFound):
    code = "import.not_found"
    title = "Import not found"


class ImportFileInvalid(InvalidInput):
    """The upload is not a readable file of the declared kind (too big, not CSV/XLSX, no rows,
    too many rows)."""

    code = "import.invalid_file"
    title = "The file cannot be imported"
