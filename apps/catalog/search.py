"""Product search: PostgreSQL full-text (weighted name 'A' over description 'B', stored tsvector
with a GIN index, ranked by ts_rank), degrading to a case-insensitive match elsewhere (SQLite).
The vendor is checked at call time, so one code path serves both databases."""

from collections.abc import Iterable
from uuid import UUID

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Case, F, FloatField, Q, QuerySet, Value, When
from django.db.models.expressions import CombinedExpression

SEARCH_CONFIG = "english"  # must match migration 0003's backfill


def full_text_available() -> bool:
    return connection.vendor == "postgresql"


def search_vector_expression() -> CombinedExpression:
    """The weighted vector; two SearchVectors added are a CombinedSearchVector, which is a
    CombinedExpression (not a SearchVector)."""
    return SearchVector("name", weight="A", config=SEARCH_CONFIG) + SearchVector(
        "description", weight="B", config=SEARCH_CONFIG
    )


def search_vector_refresh(product_ids: Iterable[UUID]) -> None:
    """Recompute the stored vector of these products (after a name or description change)."""
    if not full_text_available():
        return
    from apps.catalog.models import Product

    Product.objects.filter(pk__in=list(product_ids)).update(
        search_vector=search_vector_expression()
    )


def search_apply(queryset: QuerySet, text: str) -> QuerySet:
    """Filter by `text` and annotate `relevance` (higher is better)."""
    text = text.strip()
    if not text:
        return queryset.annotate(relevance=Value(0.0, output_field=FloatField()))
    if full_text_available():
        query = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
        return queryset.filter(search_vector=query).annotate(
            relevance=SearchRank(F("search_vector"), query)
        )
    # SQLite: a name match ranks above a description-only match, like the weights above.
    return queryset.filter(Q(name__icontains=text) | Q(description__icontains=text)).annotate(
        relevance=Case(
            When(name__icontains=text, then=Value(1.0)),
            default=Value(0.5),
            output_field=FloatField(),
        )
    )
