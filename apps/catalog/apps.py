from typing import Any

from django.apps import AppConfig


def _on_media_processed(envelope: dict[str, Any]) -> None:
    from apps.catalog.cache import product_cache_bump_for_asset

    product_cache_bump_for_asset(envelope["data"]["asset_id"])


def _on_shop_updated(envelope: dict[str, Any]) -> None:
    from apps.catalog.cache import product_cache_bump_for_shop

    product_cache_bump_for_shop(envelope["data"]["shop_id"])


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.catalog"
    label = "catalog"

    def ready(self) -> None:
        from apps.events import subscribe

        # Lower apps cannot call the catalog; their events keep cached product pages fresh.
        subscribe("media.processed", _on_media_processed)
        subscribe("shop.updated", _on_shop_updated)
