"""Commerce test data for the cart (and the discounts and orders tests that import it from here):
re-exported from the single sources in tests/catalog, tests/inventory and tests/users."""

from tests.catalog.factories import ProductFactory, VariantFactory, category
from tests.inventory.factories import stocked_variant
from tests.shops.factories import ShopFactory

__all__ = ["ProductFactory", "ShopFactory", "VariantFactory", "category", "stocked_variant"]
