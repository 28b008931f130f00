"""PostgreSQL-only indexes: GIN on the search vector and on the JSON attributes (jsonb_path_ops,
which serves the `@>` containment used by the `attr.<name>` filter). SQLite has neither, so the
operations check the vendor at migration time and do nothing there."""

from django.db import migrations

SEARCH_CONFIG = "english"

FORWARD = [
    "CREATE INDEX IF NOT EXISTS product_search_gin ON catalog_product USING GIN (search_vector)",
    "CREATE INDEX IF NOT EXISTS product_attributes_gin ON catalog_product "
    "USING GIN (attributes jsonb_path_ops)",
    # Backfill rows written before the column existed.
    f"UPDATE catalog_product SET search_vector = "
    f"setweight(to_tsvector('{SEARCH_CONFIG}', coalesce(name, '')), 'A') || "
    f"setweight(to_tsvector('{SEARCH_CONFIG}', coalesce(description, '')), 'B')",
]
BACKWARD = [
    "DROP INDEX IF EXISTS product_search_gin",
    "DROP INDEX IF EXISTS product_attributes_gin",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_search_and_indexes")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
