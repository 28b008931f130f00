from django.apps import AppConfig


class InventoryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.inventory"
    label = "inventory"

    def ready(self) -> None:
        from apps.catalog.services import initial_stock_recorder_register
        from apps.inventory.services import stock_initial_record

        # The catalog creates variants; their initial stock is the inventory ledger's.
        initial_stock_recorder_register(stock_initial_record)
