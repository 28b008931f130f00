"""Products in CSV and XLSX: one row per variant, with its product's columns.

Columns: `handle` (rows with the same handle are one product's variants; exported as the
product's slug), `shop` (slug; staff imports only, a seller's rows are their shop's), `type`,
`name`, `description`, `category` (slug), `sku`, `price`, `stock` (units on hand when the
variant is created; later imports leave stock alone: import stock levels for that),
`attr.<name>` for each attribute and `option.<name>` for each variant option of the product
types (`GET /product-types`). A blank cell leaves a value as it is.

Rows are matched by SKU (the file's stored SKUs are read in one query). A new handle's rows are
checked as `product_create` checks a product (`product_draft`, `product_draft_variant_add`:
refusals come before any write) and written CHUNK_PRODUCTS products at a time by
`products_create_many` (bulk INSERTs of products, variants, stock rows, ledger entries and
events); a new SKU next to an existing product's goes through `variant_create`; a known SKU's
changes go through `product_update` and `variant_update`, which check them as the API does. A
row equal to what is stored is skipped, so the same file imported twice changes nothing."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db.models import QuerySet
from import_export import resources
from import_export.instance_loaders import BaseInstanceLoader

from apps.catalog.models import Category, Product, ProductVariant
from apps.catalog.product_types import REGISTRY, attribute_by_name
from apps.catalog.services import (
    ProductDraft,
    product_category_check,
    product_draft,
    product_draft_variant_add,
    product_update,
    products_create_many,
    variant_create,
    variant_update,
)
from apps.core.errors import DomainError
from apps.core.resources import (
    CountWidget,
    MoneyWidget,
    ServiceResource,
    TextWidget,
    blank,
    column_field,
    refusal_errors,
)

if TYPE_CHECKING:
    from apps.shops.models import Shop
    from apps.users.models import User

ATTRIBUTE_PREFIX, OPTION_PREFIX = "attr.", "option."
ATTRIBUTE_NAMES = sorted({a.name for t in REGISTRY.values() for a in t.attributes})
OPTION_NAMES = sorted({o.name for t in REGISTRY.values() for o in t.variant_options})
PRODUCT_COLUMNS = ("type", "name", "description", "category")
# Where a service's refusal lands when its pointer names no column of its own.
REFUSAL_COLUMNS = {
    "attributes": ATTRIBUTE_PREFIX,
    "options": OPTION_PREFIX,
    "catalog.sku_taken": "sku",
    "catalog.duplicate_variant": "sku",
    "catalog.product_archived": "handle",
    "catalog.category_not_found": "category",
}


@dataclass
class ProductRow:
    """One variant with its product, as a row holds it."""

    handle: str | None = None
    shop: str | None = None
    type: str | None = None
    name: str | None = None
    description: str | None = None
    category: str | None = None
    sku: str | None = None
    price: Decimal | None = None
    stock: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    variant: ProductVariant | None = None  # the stored variant (None: a new SKU)

    @property
    def pk(self) -> Any:
        return self.variant.pk if self.variant else None

    def stored(self) -> tuple:
        """What an import may change (not the handle, the shop, nor the initial stock)."""
        return (
            self.type,
            self.name,
            self.description or "",
            self.category,
            self.price,
            self.attributes,
            self.options,
        )

    def __str__(self) -> str:
        return self.sku or ""

    @classmethod
    def of(cls, variant: ProductVariant) -> "ProductRow":
        product = variant.product
        stock = getattr(variant, "stock", None)
        return cls(
            handle=product.slug,
            shop=product.shop.slug,
            type=product.type,
            name=product.name,
            description=product.description,
            category=product.category.slug if product.category else None,
            sku=variant.sku,
            price=variant.price,
            stock=stock.on_hand if stock else 0,
            attributes=dict(product.attributes),
            options=dict(variant.options),
            variant=variant,
        )


class KeyField(resources.Field):
    """`attr.<name>` or `option.<name>`: one key of the row's attributes or options. Values
    are read as the type declares them (`engine_cc` a whole number, `year` too, ...)."""

    def __init__(self, prefix: str, name: str) -> None:
        super().__init__(
            attribute=prefix + name,
            column_name=prefix + name,
            widget=TextWidget(),
            saves_null_values=False,
        )
        self.prefix, self.key = prefix, name

    def _mapping(self, row: ProductRow) -> dict[str, Any]:
        return row.attributes if self.prefix == ATTRIBUTE_PREFIX else row.options

    def get_value(self, instance: Any) -> Any:
        return self._mapping(instance).get(self.key)

    def save(self, instance: Any, row: Any, is_m2m: bool = False, **kwargs: Any) -> None:
        text = self.clean(row, **kwargs)
        if text is None:
            return
        value: Any = text
        declared = attribute_by_name(self.key) if self.prefix == ATTRIBUTE_PREFIX else None
        if declared is not None and declared.kind != "string":
            try:
                value = declared.coerce_query_value(text)
            except ValueError:
                kind = {"integer": "a whole number", "number": "a number"}.get(
                    declared.kind, "true or false"
                )
                raise ValueError(f"Must be {kind}.") from None
        self._mapping(instance)[self.key] = value

    def export(self, instance: Any, **kwargs: Any) -> str:
        value = self.get_value(instance)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)


@dataclass
class _Group:
    """A handle of the file: its product, once known (or its draft, until it is written), and
    the first row saved for it."""

    product: Product | None = None
    first_number: int | None = None
    draft: ProductDraft | None = None


class _Loader(BaseInstanceLoader):
    """Stored rows come from the resource's own lookup (one query for the whole file)."""

    def get_instance(self, row: Any) -> Any:
        return self.resource.stored_row(row)


class ProductResource(ServiceResource):
    handle = column_field("handle")
    shop = column_field("shop")
    type = column_field("type")
    name = column_field("name")
    description = column_field("description")
    category = column_field("category")
    sku = column_field("sku")
    price = column_field("price", MoneyWidget())
    stock = column_field("stock", CountWidget())

    # New products written per batch: a few statements per batch instead of a few per row.
    CHUNK_PRODUCTS = 250

    class Meta:
        import_id_fields = ("sku",)
        instance_loader_class = _Loader
        skip_unchanged = True
        report_skipped = True
        skip_html_diff = True  # the admin's report shows the row's values and its errors
        # No savepoint per row: a row's refusals come before it writes (new products wait in
        # drafts), and the import is rolled back whole when any row is refused. The batches
        # are ours (`_drafts_write`), not import-export's model bulk writes.
        use_bulk = True

    def __init__(
        self, *, actor: "User | None" = None, shop: "Shop | None" = None, **kwargs: Any
    ) -> None:
        """`actor`: who imports (the ledger and the services record them; exports need
        none). `shop`: the seller's shop, whose rows these are (None: staff, each row names
        its shop)."""
        super().__init__(**kwargs)
        for name in ATTRIBUTE_NAMES:
            self.fields[ATTRIBUTE_PREFIX + name] = KeyField(ATTRIBUTE_PREFIX, name)
        for name in OPTION_NAMES:
            self.fields[OPTION_PREFIX + name] = KeyField(OPTION_PREFIX, name)
        self.actor, self.own_shop = actor, shop
        self._stored: dict[str, ProductVariant] = {}
        self._shops: dict[str, Shop] = {}
        self._products: dict[tuple[Any, str], _Group] = {}  # by (shop id, handle)
        self._drafts: list[_Group] = []  # handles whose new product is not written yet
        self._new_skus: set[str] = set()  # SKUs this import adds
        self._categories: dict[tuple[Any, str], Category | None] = {}

    def _importer(self) -> "User":
        if self.actor is None:
            raise ImproperlyConfigured("ProductResource(actor=...) imports for someone.")
        return self.actor

    # --- reading

    def get_export_order(self) -> tuple[str, ...]:
        return tuple(self.fields)

    def get_import_order(self) -> tuple[str, ...]:
        return tuple(self.fields)

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        """The stored variants of the file's SKUs and the shops it names, in two queries; what
        an earlier import with this resource learnt is forgotten."""
        from apps.shops.models import Shop

        self._products, self._drafts, self._new_skus, self._categories = {}, [], set(), {}
        skus = {str(s).strip() for s in dataset["sku"] if s} if "sku" in dataset.headers else set()
        self._stored = {
            variant.sku: variant
            for variant in ProductVariant.objects.filter(sku__in=skus).select_related(
                "product__shop", "product__category", "stock"
            )
        }
        if self.own_shop is None and "shop" in dataset.headers:
            slugs = {str(s).strip() for s in dataset["shop"] if s}
            self._shops = {shop.slug: shop for shop in Shop.objects.filter(slug__in=slugs)}

    def stored_row(self, row: Any) -> ProductRow | None:
        variant = self._stored.get(str(row.get("sku") or "").strip())
        if variant is None:
            return None
        if self.own_shop is not None and variant.product.shop_id != self.own_shop.pk:
            raise ValidationError({"sku": f"SKU {variant.sku} is already in use."})
        return ProductRow.of(variant)

    def init_instance(self, row: Any = None) -> ProductRow:
        return ProductRow()

    def skip_row(
        self, instance: Any, original: Any, row: Any, import_validation_errors: Any = None
    ) -> bool:
        if import_validation_errors or original is None or original.variant is None:
            return False
        return bool(instance.stored() == original.stored())

    # --- writing

    def save_instance(self, instance: Any, is_create: bool, row: Any, **kwargs: Any) -> None:
        try:
            self._save(instance, row, kwargs.get("row_number", 0))
        except DomainError as exc:
            raise refusal_errors(exc, REFUSAL_COLUMNS) from exc

    def bulk_create(
        self,
        using_transactions: bool,
        dry_run: bool,
        raise_errors: bool,
        batch_size: int | None = None,
        result: Any = None,
    ) -> None:
        """At the end of the file (import-export's last batch): the drafts left. A refusal
        here (a SKU taken meanwhile by another import) fails the whole import."""
        try:
            self._drafts_write()
        except Exception as exc:
            self.handle_import_error(result, exc, raise_errors)

    def bulk_update(self, *args: Any, **kwargs: Any) -> None:
        pass  # every change went through the services as its row was read

    def bulk_delete(self, *args: Any, **kwargs: Any) -> None:
        pass  # imports delete nothing

    def _drafts_write(self) -> None:
        groups, self._drafts = self._drafts, []
        drafts = [group.draft for group in groups if group.draft is not None]
        products = products_create_many(actor=self._importer(), drafts=drafts)
        for group, product in zip(groups, products, strict=True):
            group.product, group.draft = product, None

    def _shop_of(self, row: ProductRow) -> "Shop":
        if self.own_shop is not None:
            if row.shop and row.shop != self.own_shop.slug:
                raise ValidationError({"shop": "Rows can only add to your own shop."})
            return self.own_shop
        if row.variant is not None:
            return row.variant.product.shop
        shop = self._shops.get(row.shop or "")
        if shop is None:
            raise ValidationError({"shop": f"No shop {row.shop!r}." if row.shop else "Required."})
        return shop

    def _category_of(self, shop: "Shop", slug: str | None) -> Category | None:
        """The category a row names, read once per shop and slug (a refusal is not kept)."""
        if not slug:
            return None
        key = (shop.pk, slug)
        if key not in self._categories:
            self._categories[key] = product_category_check(shop=shop, category=slug)
        return self._categories[key]

    def _new_sku(self, row: ProductRow) -> str:
        if not row.sku:
            raise ValidationError({"sku": "Required."})
        if row.sku in self._new_skus:  # an earlier row of the file adds it
            raise ValidationError({"sku": f"SKU {row.sku} is already in use."})
        return row.sku

    def _save(self, row: ProductRow, raw: Any, number: int) -> None:
        """The first row of a handle that is saved creates (as a draft) or updates its product;
        the handle's later rows add or update variants, and must agree with that row."""
        shop = self._shop_of(row)
        if not row.handle:
            raise ValidationError({"handle": "Required: rows with one handle are one product."})
        group = self._products.setdefault((shop.pk, row.handle), _Group())
        if row.variant is not None:
            group.product = group.product or row.variant.product
            if group.draft is not None or row.variant.product_id != group.product.pk:
                raise ValidationError(
                    {"handle": f"SKU {row.sku} belongs to another product of this handle."}
                )
        if group.product is None and group.draft is None:
            self._draft_product(row, shop, group, number)
            return
        current = group.draft.product if group.draft is not None else group.product
        assert current is not None
        changes = self._product_changes(row, raw, current)
        if group.first_number is None:
            group.first_number = number
            if changes:
                group.product = product_update(
                    actor=self._importer(), product=current, data=changes
                )
        elif changes:
            differs = f"Differs from row {group.first_number} of handle {row.handle!r}."
            columns = [ATTRIBUTE_PREFIX + name for name in changes.pop("attributes", {})]
            raise ValidationError(dict.fromkeys([*changes, *columns], differs))
        if row.variant is None:
            sku = self._new_sku(row)
            if group.draft is not None:
                product_draft_variant_add(
                    draft=group.draft,
                    variant={
                        "sku": sku,
                        "options": row.options,
                        "price": row.price,
                        "stock": row.stock,
                    },
                )
                self._new_skus.add(sku)
                return
            assert group.product is not None
            row.variant = variant_create(
                actor=self._importer(),
                product=group.product,
                options=row.options,
                price=row.price if row.price is not None else group.product.price,
                sku=sku,
                stock=row.stock,
            )
            self._new_skus.add(sku)
            return
        variant_changes: dict[str, Any] = {}
        if row.price is not None and row.price != row.variant.price:
            variant_changes["price"] = row.price
        if row.options != row.variant.options:
            variant_changes["options"] = row.options
        if variant_changes:
            variant_update(actor=self._importer(), variant=row.variant, data=variant_changes)

    def _draft_product(self, row: ProductRow, shop: "Shop", group: "_Group", number: int) -> None:
        """A new handle's first row: the product, checked now and written with its batch. A
        full batch is written first, so that a handle's later rows (which follow its first
        in a file as exported) join its draft."""
        if len(self._drafts) >= self.CHUNK_PRODUCTS:
            self._drafts_write()
        missing = {column: "Required." for column in ("name", "sku") if not getattr(row, column)}
        if missing:
            raise ValidationError(missing)
        sku = self._new_sku(row)
        group.draft = product_draft(
            actor=self._importer(),
            shop=shop,
            type=row.type or "",
            name=row.name or "",
            description=row.description or "",
            category=self._category_of(shop, row.category),
            attributes=row.attributes,
            variants=[{"sku": sku, "options": row.options, "price": row.price, "stock": row.stock}],
        )
        group.first_number = number
        self._new_skus.add(sku)
        self._drafts.append(group)

    @staticmethod
    def _product_changes(row: ProductRow, raw: Any, product: Product) -> dict[str, Any]:
        """The product columns this row gives (non-blank cells) that differ from `product`."""
        if not blank(raw.get("type")) and row.type != product.type:
            raise ValidationError({"type": "A product's type cannot change."})
        changes: dict[str, Any] = {
            column: getattr(row, column)
            for column in ("name", "description")
            if not blank(raw.get(column)) and getattr(row, column) != getattr(product, column)
        }
        category = product.category.slug if product.category else None
        if not blank(raw.get("category")) and row.category != category:
            changes["category"] = row.category
        attributes = {
            name: value
            for name, value in row.attributes.items()
            if not blank(raw.get(ATTRIBUTE_PREFIX + name)) and product.attributes.get(name) != value
        }
        if attributes:
            changes["attributes"] = attributes
        return changes

    # --- export

    def get_queryset(self) -> QuerySet[Product]:
        return Product.objects.all()

    def iter_queryset(self, queryset: Any) -> Iterator[ProductRow]:
        """The variants of `queryset`'s products (a product queryset), in product order."""
        variants = (
            ProductVariant.objects.filter(product__in=queryset)
            .select_related("product__shop", "product__category", "stock")
            .order_by("product__shop__slug", "product__slug", "position", "sku")
        )
        for variant in variants.iterator(chunk_size=2000):
            yield ProductRow.of(variant)
