"""Slugs never read as ids.

Product, shop and category paths accept an id or a slug, and a text that parses as a UUID is
taken for an id. `uuid.UUID` ignores hyphens wherever they are (and braces, `urn:uuid:`), so
a slug of 32 hex digits and hyphens (a shop named `0123456789abcdef0123456789abcdef`, or
`deadbeef…-2` after numbering) would be unreachable by its slug. Slugs made by the services skip
such candidates, the models refuse them (the admin's forms), and lookups still find a slug that
looks like a UUID, from before this rule, when no row has that id.
"""

import uuid
from collections.abc import Callable, Container, Iterator
from itertools import count
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Q, Value, When


def as_uuid(value: Any) -> uuid.UUID | None:
    """`value` as a UUID (a UUID, or a text that parses as one), else None."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def parses_as_uuid(text: str) -> bool:
    """Whether an id-or-slug lookup would take `text` for an id."""
    return as_uuid(text) is not None


def validate_slug_not_uuid(value: str) -> None:
    """Model field validator: a slug must not read as an id."""
    if parses_as_uuid(value):
        raise ValidationError(
            "A slug must not look like an id (a UUID); add a word to it.", code="slug_is_uuid"
        )


def _candidates(base: str) -> Iterator[str]:
    yield base
    for number in count(2):
        yield f"{base}-{number}"


def first_free_slug(base: str, taken: Container[str]) -> str:
    """`base`, else `base-2`, `base-3`… : the first that is not taken and does not read as an id
    (a base that does becomes `base-2`, whose 33 digits no longer parse)."""
    return next(
        slug for slug in _candidates(base) if slug not in taken and not parses_as_uuid(slug)
    )


def suffixed_slug(base: str, suffix: Callable[[], str]) -> str:
    """`base-<suffix()>` that does not read as an id (a random hex suffix can complete 32 hex
    digits; then another is drawn)."""
    while parses_as_uuid(slug := f"{base}-{suffix()}"):
        pass
    return slug


def id_or_slug(ident: Any, *, prefix: str = "") -> Q:
    """Rows whose id is `ident`, or whose slug is: an id when it parses as a UUID (then also a
    slug from before slugs could not look like one), else a slug. Order by `id_first` to prefer
    the id's row."""
    text = str(ident)
    pk = as_uuid(ident)
    if pk is None:
        return Q(**{f"{prefix}slug": text})
    return Q(**{f"{prefix}pk": pk}) | Q(**{f"{prefix}slug": text})


def id_first(ident: Any, *, prefix: str = "") -> tuple[Case, ...]:
    """Orderings (none for a slug) that put the row whose id is `ident` before one whose slug
    only looks like it: `.order_by(*id_first(ident), ...)`."""
    pk = as_uuid(ident)
    if pk is None:
        return ()
    return (
        Case(
            When(Q(**{f"{prefix}pk": pk}), then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
    )
