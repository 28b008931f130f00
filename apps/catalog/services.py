"""Catalog writes. Each service validates, owns its transaction, keeps the derived data
(product price = lowest active variant price, search vector, cache versions) and raises domain
errors from `apps.catalog.errors`. Callers pass the acting user; scoping (which product the actor
may touch) is done by `selectors.product_get_for_write` before the call."""

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, Min, OuterRef, Q
from django.utils import timezone
from django.utils.text import slugify

from apps.catalog.cache import product_cache_bump, product_cache_bump_many
from apps.catalog.errors import (
    DuplicateVariant,
    InvalidAttributes,
    InvalidProduct,
    LastVariant,
    NotPublishable,
    ProductArchived,
    SkuTaken,
    VariantInUse,
)
from apps.catalog.events import (
    PRODUCT_PUBLISHED,
    PRODUCT_UNPUBLISHED,
    product_payload,
    product_published_payload,
)
from apps.catalog.models import Category, Product, ProductImage, ProductVariant
from apps.catalog.product_types import ProductType, get_product_type
from apps.catalog.search import search_vector_refresh
from apps.catalog.selectors import as_uuid, product_get_full
from apps.core.errors import FieldError, field_error
from apps.core.slugs import first_free_slug, id_first, id_or_slug
from apps.events import emit

if TYPE_CHECKING:
    from apps.shops.models import Shop
    from apps.users.models import User

MAX_VARIANTS = 100
MAX_IMAGES = 20
# Images a product may show: uploaded (and being thumbnailed) or ready; not failed or pending.
USABLE_ASSET_STATUSES = ("processing", "ready")


# --- helpers ----------


def _raise_if(errors: list[FieldError], detail: str) -> None:
    if not errors:
        return
    if all(e["pointer"].startswith("/attributes") for e in errors):
        raise InvalidAttributes(detail, errors=errors)
    raise InvalidProduct(detail, errors=errors)


def _options_key(options: Mapping[str, Any]) -> tuple:
    return tuple(sorted(options.items()))


def _auto_sku(shop: "Shop") -> str:
    prefix = "".join(ch for ch in shop.slug.upper() if ch.isalnum())[:10] or "SKU"
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def _category_for(shop: "Shop", ident: Any, *, pointer: str = "/category") -> Category | None:
    if ident in (None, ""):
        return None
    if isinstance(ident, Category):  # already read (an import resolves each category once)
        category: Category | None = ident
    else:
        category = (
            Category.objects.filter(id_or_slug(ident)).order_by(*id_first(ident), "path").first()
        )
    if category is None or (category.shop_id and category.shop_id != shop.pk):
        raise InvalidProduct(
            "Unknown category.",
            errors=[field_error(pointer, "does_not_exist", "No such category.")],
        )
    return category


def product_category_check(*, shop: "Shop", category: Any) -> Category | None:
    """The category a product of `shop` may be filed under: `category` (a Category, an id or a
    slug; None or "" for none) when it is global or the shop's own. Raises InvalidProduct
    (pointer `/category`) otherwise. `product_create` and `product_update` make this check; it is
    public for the admin's product form."""
    if isinstance(category, Category):
        category = category.pk
    return _category_for(shop, category)


def _assets_for(actor: "User", shop: "Shop", image_ids: Sequence[Any]) -> list[Any]:
    """The media assets named by `image_ids`, in order; each must belong to the caller (or, for
    staff acting on a shop, to the shop's seller) and be usable."""
    from apps.media.models import MediaAsset

    owners = {actor.pk, shop.owner_id}
    if len(image_ids) > MAX_IMAGES:
        raise InvalidProduct(
            "Too many images.",
            errors=[field_error("/image_ids", "max_length", f"At most {MAX_IMAGES}.")],
        )
    found = {
        asset.pk: asset
        for asset in MediaAsset.objects.filter(pk__in=[as_uuid(i) for i in image_ids])
    }
    errors: list[FieldError] = []
    seen: set[Any] = set()
    assets = []
    for index, raw in enumerate(image_ids):
        pk = as_uuid(raw)
        asset = found.get(pk) if pk is not None else None  # not a UUID: no such asset
        pointer = f"/image_ids/{index}"
        if asset is None or asset.owner_id not in owners:
            errors.append(field_error(pointer, "does_not_exist", "No such media asset of yours."))
        elif asset.status not in USABLE_ASSET_STATUSES:
            errors.append(field_error(pointer, "invalid_asset", f"The asset is {asset.status}."))
        elif pk in seen:
            errors.append(field_error(pointer, "duplicate", "Listed twice."))
        else:
            seen.add(pk)
            assets.append(asset)
    _raise_if(errors, "Some images cannot be used.")
    return assets


def _images_set(product: Product, assets: Sequence[Any]) -> None:
    ProductImage.objects.filter(product=product).exclude(asset__in=assets).delete()
    existing = {image.asset_id: image for image in ProductImage.objects.filter(product=product)}
    for position, asset in enumerate(assets):
        image = existing.get(asset.pk)
        if image is None:
            ProductImage.objects.create(product=product, asset=asset, position=position)
        elif image.position != position:
            ProductImage.objects.filter(pk=image.pk).update(position=position)


def _price_refresh(product: Product) -> None:
    """product.price = the lowest active variant price (the lowest of all when none is active)."""
    variants = ProductVariant.objects.filter(product=product)
    price = variants.filter(is_active=True).aggregate(p=Min("price"))["p"]
    if price is None:
        price = variants.aggregate(p=Min("price"))["p"]
    if price is not None and price != product.price:
        Product.objects.filter(pk=product.pk).update(price=price, updated_at=timezone.now())
        product.price = price


def _sku_check(skus: Sequence[str], *, exclude_variant: Any = None) -> None:
    taken = ProductVariant.objects.filter(sku__in=skus)
    if exclude_variant is not None:
        taken = taken.exclude(pk=exclude_variant)
    sku = taken.values_list("sku", flat=True).first()
    if sku:
        raise SkuTaken(f"SKU {sku} is already in use.", sku=sku)


# Initial stock of new variants is recorded by inventory, which sits above the catalog: it
# registers its recorder at start-up (apps.inventory.apps), as payments registers its payment
# methods with orders. The catalog never imports inventory.
InitialStockRecorder = Callable[..., object]
_initial_stock_recorder: InitialStockRecorder | None = None


def initial_stock_recorder_register(recorder: InitialStockRecorder) -> None:
    """`recorder(lines=[(variant_id, quantity), ...], actor=user)` puts the first units of new
    variants on hand, in the caller's transaction; called once per batch of new variants. One
    recorder: a second would record the same units twice, so registering replaces it."""
    global _initial_stock_recorder
    _initial_stock_recorder = recorder


def _stock_initial(lines: Sequence[tuple[Any, int | None]], actor: "User") -> None:
    """Initial on_hand of new variants, through the registered recorder (the inventory ledger)."""
    stocked = [(variant_id, quantity) for variant_id, quantity in lines if quantity]
    if not stocked:
        return
    if _initial_stock_recorder is None:
        raise ImproperlyConfigured("Initial stock needs a recorder: is apps.inventory installed?")
    _initial_stock_recorder(lines=stocked, actor=actor)


def _changed(product: Product, *, search: bool = False) -> None:
    if search:
        search_vector_refresh([product.pk])
    product_cache_bump(product.pk)


def _shop_product_count_add(shop_id: Any, delta: int) -> None:
    """Keep `Shop.product_count` (published products) in step with a status change: one
    conditional UPDATE, never read-compare-write; it never goes below zero."""
    from apps.shops.models import Shop

    shops = Shop.objects.filter(pk=shop_id)
    if delta < 0:
        shops = shops.filter(product_count__gte=-delta)
    shops.update(product_count=F("product_count") + delta)


def _require_not_archived(product: Product) -> None:
    if product.status == Product.Status.ARCHIVED:
        raise ProductArchived("Archived products cannot change; unarchive is not supported.")


def product_change_check(*, product: Product) -> None:
    """Raises ProductArchived when `product` may no longer change: every write service refuses an
    archived product (the API's 409 `catalog.product_archived`). Public for editors that must
    know before they write: the admin shows archived products read-only."""
    _require_not_archived(product)


def _variant_errors(
    product_type: type[ProductType],
    variants: Sequence[Mapping[str, Any]],
    *,
    default_price: Decimal | None,
) -> list[FieldError]:
    errors: list[FieldError] = []
    seen_skus: dict[str, int] = {}
    seen_options: dict[tuple, int] = {}
    for index, variant in enumerate(variants):
        pointer = f"/variants/{index}"
        options = variant.get("options")
        if options is None:  # absent; any other non-object (`[]` from the admin) is an error
            options = {}
        option_errors = product_type.option_errors(options, pointer=f"{pointer}/options")
        errors.extend(option_errors)
        if not option_errors:
            key = _options_key(options)
            if key in seen_options:
                errors.append(
                    field_error(
                        f"{pointer}/options",
                        "duplicate",
                        f"Same options as variant {seen_options[key]}.",
                    )
                )
            seen_options[key] = index
        sku = variant.get("sku")
        if sku:
            if sku in seen_skus:
                errors.append(
                    field_error(
                        f"{pointer}/sku", "duplicate", f"Same SKU as variant {seen_skus[sku]}."
                    )
                )
            seen_skus[sku] = index
        if variant.get("price") is None and default_price is None:
            errors.append(
                field_error(
                    f"{pointer}/price", "required", "A price is required (here or on the product)."
                )
            )
    return errors


def _spec_price(spec: Mapping[str, Any], default: Decimal | None) -> Decimal:
    """A variant's own price, else the product's; 0.00 is a price. Not None once
    `_variant_errors` has passed: it refuses a variant with neither (the cast says so)."""
    own = spec.get("price")
    return cast(Decimal, own if own is not None else default)


def variant_list_errors(
    *, product_type: type[ProductType], variants: Sequence[Mapping[str, Any]]
) -> list[FieldError]:
    """Every problem with a product's variants taken together, each `{options, sku?, price}`: the
    checks `product_create` makes (options against the type, no two variants with the same
    options or SKU, a price on each), with pointers `/variants/<index in variants>/<field>...`.
    For editors that change several variants in one go: the admin's variant inline."""
    return _variant_errors(product_type, variants, default_price=None)


# --- products ----------


@dataclass
class ProductDraft:
    """A product checked by `product_draft` and not written yet: `products_create_many` writes
    it. `variants` are specs `{id?, sku?, options, price, stock?, is_active?}`."""

    product: Product  # unsaved: shop, type, name, description, category, attributes
    product_type: type[ProductType]
    variants: list[dict[str, Any]]
    default_price: Decimal | None = None
    assets: list[Any] = field(default_factory=list)


def product_draft(
    *,
    actor: "User",
    shop: "Shop",
    type: str,
    name: str,
    description: str = "",
    category: Any = None,
    price: Decimal | None = None,
    attributes: Mapping[str, Any] | None = None,
    variants: Sequence[Mapping[str, Any]] | None = None,
    stock: int | None = None,
    image_ids: Sequence[Any] | None = None,
) -> ProductDraft:
    """Every check `product_create` makes, without writing: the draft to give to
    `products_create_many`. `category` may be a Category already read. The SKUs are checked
    against the database when the draft is written. Raises what `product_create` raises."""
    product_type = get_product_type(type)
    attributes = attributes if attributes is not None else {}
    errors = product_type.attribute_errors(attributes)
    if variants:
        if len(variants) > MAX_VARIANTS:
            errors.append(
                field_error("/variants", "max_length", f"At most {MAX_VARIANTS} variants.")
            )
        errors.extend(_variant_errors(product_type, variants, default_price=price))
        if stock is not None:
            errors.append(
                field_error("/stock", "invalid", "With variants, give each variant its own stock.")
            )
    elif price is None:
        errors.append(field_error("/price", "required", "A price is required."))
    _raise_if(errors, f"The {type} product is not valid.")

    category_obj = _category_for(shop, category)
    assets = _assets_for(actor, shop, image_ids) if image_ids else []
    variant_specs = (
        [dict(v) for v in variants]
        if variants
        else [{"options": {}, "price": price, "stock": stock}]
    )
    product = Product(
        shop=shop,
        type=product_type.type,
        name=name,
        description=description,
        category=category_obj,
        attributes=dict(attributes),
    )
    return ProductDraft(product, product_type, variant_specs, price, assets)


def product_draft_variant_add(*, draft: ProductDraft, variant: Mapping[str, Any]) -> None:
    """Add a variant `{sku?, options, price?, stock?}` to a draft, checked as `variant_create`
    checks a new variant of a stored product: options of the type and unlike the others', a
    SKU not already in the draft; without a price it takes the product's (the lowest so far).
    Raises InvalidOptions, DuplicateVariant, SkuTaken, InvalidProduct (too many variants)."""
    options = draft.product_type.validate_options(variant.get("options") or {})
    key = _options_key(options)
    if any(_options_key(spec.get("options") or {}) == key for spec in draft.variants):
        raise DuplicateVariant(
            "Another variant of this product has the same options.", options=dict(options)
        )
    sku = variant.get("sku")
    if sku and any(spec.get("sku") == sku for spec in draft.variants):
        raise SkuTaken(f"SKU {sku} is already in use.", sku=sku)
    if len(draft.variants) >= MAX_VARIANTS:
        raise InvalidProduct(
            "Too many variants.",
            errors=[field_error("/variants", "max_length", f"At most {MAX_VARIANTS} variants.")],
        )
    price = variant.get("price")
    draft.variants.append(
        {
            **variant,
            "options": options,
            "price": price if price is not None else _draft_price(draft),
        }
    )


def _unique_slugs(drafts: Sequence[ProductDraft]) -> None:
    """A free slug in its shop for each draft that never reads as an id (product paths take a
    UUID-looking text for an id; apps.core.slugs): one query per shop for all of them."""
    by_shop: dict[Any, list[ProductDraft]] = {}
    for draft in drafts:
        by_shop.setdefault(draft.product.shop_id, []).append(draft)
    for shop_id, shop_drafts in by_shop.items():
        bases = {slugify(d.product.name)[:200] or "product" for d in shop_drafts}
        taken = set(
            Product.objects.filter(shop_id=shop_id)
            .filter(reduce(or_, (Q(slug__startswith=base) for base in bases)))
            .values_list("slug", flat=True)
        )
        for draft in shop_drafts:
            slug = first_free_slug(slugify(draft.product.name)[:200] or "product", taken)
            draft.product.slug = slug
            taken.add(slug)


def _draft_price(draft: ProductDraft) -> Decimal:
    """What `_price_refresh` makes of the new variants: the lowest active price, else the
    lowest of all."""
    prices = [
        (_spec_price(v, draft.default_price), v.get("is_active", True)) for v in draft.variants
    ]
    active = [price for price, is_active in prices if is_active]
    return Decimal(min(active or [price for price, _ in prices]))


@transaction.atomic
def products_create_many(*, actor: "User", drafts: Sequence[ProductDraft]) -> list[Product]:
    """Write checked drafts (`product_draft`): the products, their variants and their initial
    stock (through the inventory ledger), the search vectors and the cache versions, in a
    handful of statements whatever their number. Raises SkuTaken (nothing written)."""
    if not drafts:
        return []
    _sku_check([v["sku"] for d in drafts for v in d.variants if v.get("sku")])
    _unique_slugs(drafts)
    for draft in drafts:
        draft.product.price = _draft_price(draft)
    products = Product.objects.bulk_create([draft.product for draft in drafts])
    variants = [
        ProductVariant(
            # A caller-chosen id (demo data with stable ids) or the model's default.
            **({"id": spec["id"]} if spec.get("id") else {}),
            product=draft.product,
            sku=spec.get("sku") or _auto_sku(draft.product.shop),
            options=dict(spec.get("options") or {}),
            price=_spec_price(spec, draft.default_price),
            is_active=spec.get("is_active", True),
            position=position,
        )
        for draft in drafts
        for position, spec in enumerate(draft.variants)
    ]
    try:
        with transaction.atomic():
            ProductVariant.objects.bulk_create(variants)
    except IntegrityError as exc:  # a concurrent create took one of the SKUs
        raise SkuTaken("One of the SKUs is already in use.") from exc
    stocks = [spec.get("stock") for draft in drafts for spec in draft.variants]
    _stock_initial(
        [(variant.pk, stock) for variant, stock in zip(variants, stocks, strict=True)], actor
    )
    for draft in drafts:
        if draft.assets:
            _images_set(draft.product, draft.assets)
    product_ids = [product.pk for product in products]
    search_vector_refresh(product_ids)
    product_cache_bump_many(product_ids)
    return products


@transaction.atomic
def product_create(
    *,
    actor: "User",
    shop: "Shop",
    type: str,
    name: str,
    description: str = "",
    category: Any = None,
    price: Decimal | None = None,
    attributes: Mapping[str, Any] | None = None,
    variants: Sequence[Mapping[str, Any]] | None = None,
    stock: int | None = None,
    image_ids: Sequence[Any] | None = None,
) -> Product:
    """Create a draft product of `shop`. Without `variants` it gets one default variant (auto SKU,
    `price`, `stock` on hand). Variants: `{id?, sku?, options, price?, stock?, is_active?}`; a
    missing price falls back to `price`; `id` is for data with stable ids (the demo), never from
    the API. Initial stock is recorded through the inventory ledger (the registered recorder).
    Raises UnknownProductType, InvalidAttributes/InvalidProduct (400 with pointers), SkuTaken."""
    draft = product_draft(
        actor=actor,
        shop=shop,
        type=type,
        name=name,
        description=description,
        category=category,
        price=price,
        attributes=attributes,
        variants=variants,
        stock=stock,
        image_ids=image_ids,
    )
    (product,) = products_create_many(actor=actor, drafts=[draft])
    return product_get_full(product_id=product.pk)


@transaction.atomic
def product_update(*, actor: "User", product: Product, data: Mapping[str, Any]) -> Product:
    """Partial update. `attributes` merge key by key (`None` removes a key) and the merged result
    is validated; `price` sets the price of a single-variant product (products with several
    variants are priced on their variants); `image_ids` replaces the image list. The slug stays
    (stable URLs). Raises ProductArchived, InvalidAttributes/InvalidProduct."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    _require_not_archived(product)
    product_type = get_product_type(product.type)
    fields: list[str] = []
    if "attributes" in data:
        merged = dict(product.attributes)
        for key, value in (data["attributes"] or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        product.attributes = product_type.validate_attributes(merged)
        fields.append("attributes")
    for name in ("name", "description"):
        if name in data and data[name] != getattr(product, name):
            setattr(product, name, data[name])
            fields.append(name)
    if "category" in data:
        product.category = _category_for(product.shop, data["category"])
        fields.append("category")
    if "price" in data and data["price"] is not None:
        variant_ids = list(
            ProductVariant.objects.filter(product=product).values_list("pk", flat=True)[:2]
        )
        if len(variant_ids) != 1:
            raise InvalidProduct(
                "This product has several variants: set the price on each variant.",
                errors=[field_error("/price", "price_on_variants", "Set prices on the variants.")],
            )
        ProductVariant.objects.filter(pk=variant_ids[0]).update(
            price=data["price"], updated_at=timezone.now()
        )
    if "image_ids" in data and data["image_ids"] is not None:
        _images_set(product, _assets_for(actor, product.shop, data["image_ids"]))
    if fields:
        product.save(update_fields=[*fields, "updated_at"])
    _price_refresh(product)
    _changed(product, search=bool({"name", "description"} & set(fields)))
    return product_get_full(product_id=product.pk)


def _active_variant_exists() -> Exists:
    return Exists(ProductVariant.objects.filter(product=OuterRef("pk"), is_active=True))


@transaction.atomic
def product_publish(*, actor: "User", product: Product) -> Product:
    """draft → published (a conditional update; publishing a published product changes nothing
    and emits nothing). Needs an active variant (NotPublishable); archived: ProductArchived.
    Emits `product.published` on every publication, with `first_publish` true only the first
    time (`published_at` was never set)."""
    now = timezone.now()
    # Locked so that `published_at` cannot change between this read and the update below:
    # of two racing publications only one updates, and it alone decides `first_publish`.
    previously_published_at = (
        Product.objects.select_for_update()
        .filter(pk=product.pk)
        .values_list("published_at", flat=True)
        .first()
    )
    updated = (
        Product.objects.filter(pk=product.pk, status=Product.Status.DRAFT)
        .filter(_active_variant_exists())
        .update(status=Product.Status.PUBLISHED, published_at=now, updated_at=now)
    )
    current = product_get_full(product_id=product.pk)
    if not updated:
        _require_not_archived(current)
        if current.status == Product.Status.DRAFT:
            raise NotPublishable("A product needs at least one active variant to be published.")
        return current
    _shop_product_count_add(current.shop_id, 1)
    emit(
        PRODUCT_PUBLISHED,
        current.pk,
        product_published_payload(current, first_publish=previously_published_at is None),
    )
    _changed(current)
    return current


@transaction.atomic
def product_unpublish(*, actor: "User", product: Product) -> Product:
    """published → draft; a draft stays a draft. Archived: ProductArchived.
    Emits `product.unpublished`."""
    updated = Product.objects.filter(pk=product.pk, status=Product.Status.PUBLISHED).update(
        status=Product.Status.DRAFT, updated_at=timezone.now()
    )
    current = product_get_full(product_id=product.pk)
    if not updated:
        _require_not_archived(current)
        return current
    _shop_product_count_add(current.shop_id, -1)
    emit(PRODUCT_UNPUBLISHED, current.pk, product_payload(current))
    _changed(current)
    return current


@transaction.atomic
def product_archive(*, actor: "User", product: Product) -> None:
    """Hide the product for good, keeping the row for order history. Archiving a published
    product also emits `product.unpublished` (it leaves the storefront). Idempotent."""
    current = Product.objects.select_for_update().get(pk=product.pk)
    if current.status == Product.Status.ARCHIVED:
        return
    was_published = current.status == Product.Status.PUBLISHED
    Product.objects.filter(pk=current.pk).update(
        status=Product.Status.ARCHIVED, updated_at=timezone.now()
    )
    if was_published:
        _shop_product_count_add(current.shop_id, -1)
        emit(PRODUCT_UNPUBLISHED, current.pk, product_payload(current))
    _changed(current)


def product_refresh_derived(*, product: Product) -> None:
    """Recompute price and search vector and bump the cache after an edit made outside the
    services (the admin's forms and inlines)."""
    _price_refresh(product)
    _changed(product, search=True)


# --- variants ----------


def _duplicate_options_check(
    product: Product, options: Mapping[str, Any], exclude: Any = None
) -> None:
    others = ProductVariant.objects.filter(product=product)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    key = _options_key(options)
    if any(_options_key(o) == key for o in others.values_list("options", flat=True)):
        raise DuplicateVariant(
            "Another variant of this product has the same options.", options=dict(options)
        )


def variant_options_check(*, product: Product, options: Any, exclude: Any = None) -> dict[str, Any]:
    """`options` for a variant of `product`, validated against the type's variant options and
    unlike the options of its other variants (`exclude`: the variant being edited). Raises
    UnknownProductType, InvalidOptions, DuplicateVariant. The variant services and the admin's
    variant form both check options with it."""
    options = get_product_type(product.type).validate_options(options)
    _duplicate_options_check(product, options, exclude=exclude)
    return options


@transaction.atomic
def variant_create(
    *,
    actor: "User",
    product: Product,
    options: Mapping[str, Any],
    price: Decimal,
    sku: str | None = None,
    stock: int | None = None,
    is_active: bool = True,
) -> ProductVariant:
    """Add a variant; options must use the type's variant options. Raises ProductArchived,
    InvalidOptions, DuplicateVariant, SkuTaken."""
    product = Product.objects.select_for_update().select_related("shop").get(pk=product.pk)
    _require_not_archived(product)
    options = variant_options_check(product=product, options=options)
    if sku:
        _sku_check([sku])
    position = (
        ProductVariant.objects.filter(product=product).aggregate(m=Max("position"))["m"] or 0
    ) + 1
    try:
        with transaction.atomic():
            variant = ProductVariant.objects.create(
                product=product,
                sku=sku or _auto_sku(product.shop),
                options=options,
                price=price,
                is_active=is_active,
                position=position,
            )
    except IntegrityError as exc:
        raise SkuTaken(f"SKU {sku} is already in use.", sku=sku) from exc
    _stock_initial([(variant.pk, stock)], actor)
    _price_refresh(product)
    _changed(product)
    return ProductVariant.objects.select_related("stock").get(pk=variant.pk)


def variant_removal_check(
    *, product: Product, delete: Collection[Any] = (), deactivate: Collection[Any] = ()
) -> None:
    """The rules for variants leaving `product` (`delete`: variant ids) or going inactive
    (`deactivate`: variant ids), taken together and checked against the stored variants: the
    product is not archived (ProductArchived); it keeps a variant (LastVariant) and, when it is
    published, an active one (LastVariant: unpublish it first); a variant to delete has no
    reserved stock (VariantInUse: pending orders hold it). `variant_delete` and `variant_update`
    check with it; it is public so that the admin can refuse a whole form before it calls them."""
    _require_not_archived(product)
    if not (delete or deactivate):
        return
    remaining = ProductVariant.objects.filter(product=product).exclude(pk__in=delete)
    if delete and not remaining.exists():
        raise LastVariant("A product keeps at least one variant.")
    if (
        product.status == Product.Status.PUBLISHED
        and not remaining.filter(is_active=True).exclude(pk__in=deactivate).exists()
    ):
        raise LastVariant(
            "A published product keeps at least one active variant; unpublish it first."
        )
    # Read through the variant's reverse `stock` relation: inventory sits above the catalog.
    in_use = (
        ProductVariant.objects.filter(pk__in=delete, stock__reserved__gt=0)
        .order_by("sku")
        .values_list("sku", "stock__reserved")
        .first()
    )
    if in_use is not None:
        sku, reserved = in_use
        raise VariantInUse(f"{reserved} units of {sku} are reserved by orders.", reserved=reserved)


@transaction.atomic
def variant_update(
    *, actor: "User", variant: ProductVariant, data: Mapping[str, Any]
) -> ProductVariant:
    """Partial update of `{sku, options, price, is_active, position}`. Deactivating the last
    active variant of a published product is LastVariant (unpublish it first)."""
    product = Product.objects.select_for_update().get(pk=variant.product_id)
    _require_not_archived(product)
    variant = ProductVariant.objects.select_for_update().get(pk=variant.pk)
    fields: list[str] = []
    if "options" in data:
        variant.options = variant_options_check(
            product=product, options=data["options"], exclude=variant.pk
        )
        fields.append("options")
    if data.get("sku") and data["sku"] != variant.sku:
        _sku_check([data["sku"]], exclude_variant=variant.pk)
        variant.sku = data["sku"]
        fields.append("sku")
    for name in ("price", "position", "is_active"):
        if data.get(name) is not None and data[name] != getattr(variant, name):
            setattr(variant, name, data[name])
            fields.append(name)
    if "is_active" in fields and not variant.is_active:
        variant_removal_check(product=product, deactivate=[variant.pk])
    if fields:
        try:
            with transaction.atomic():
                variant.save(update_fields=[*fields, "updated_at"])
        except IntegrityError as exc:
            raise SkuTaken(f"SKU {variant.sku} is already in use.", sku=variant.sku) from exc
    _price_refresh(product)
    _changed(product)
    return ProductVariant.objects.select_related("stock").get(pk=variant.pk)


@transaction.atomic
def variant_delete(*, actor: "User", variant: ProductVariant) -> None:
    """Delete a variant (its stock row and ledger go with it; order lines keep their snapshot).
    The last variant, the last active variant of a published product (LastVariant) and a variant
    with reserved stock (VariantInUse) cannot be deleted."""
    product = Product.objects.select_for_update().get(pk=variant.product_id)
    # Its stock row, locked before the check: a reservation cannot commit between the check and
    # the delete, which takes the row with it. (Read through the reverse `stock` relation:
    # inventory sits above the catalog.)
    list(
        ProductVariant.objects.filter(pk=variant.pk, stock__isnull=False)
        .select_related("stock")
        .select_for_update(of=("stock",))
        .only("pk", "stock__id")
    )
    variant_removal_check(product=product, delete=[variant.pk])
    variant.delete()
    _price_refresh(product)
    _changed(product)
