"""Slugs never read as ids (apps.core.slugs)."""

import itertools
import uuid

import pytest
from django.core.exceptions import ValidationError

from apps.core.slugs import (
    first_free_slug,
    id_first,
    id_or_slug,
    parses_as_uuid,
    suffixed_slug,
    validate_slug_not_uuid,
)

HEX32 = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "parses"),
    [
        (HEX32, True),
        ("01234567-89ab-cdef-0123-456789abcdef", True),
        ("0123-4567-89ab-cdef-0123-4567-89ab-cdef", True),  # uuid.UUID drops every hyphen
        (HEX32 + "-2", False),
        (HEX32[:-1] + "-2", True),
        ("corner-store", False),
        ("deadbeef", False),
    ],
)
def test_parses_as_uuid(text, parses):
    assert parses_as_uuid(text) is parses


def test_first_free_slug_keeps_a_plain_base_and_numbers_taken_ones():
    assert first_free_slug("corner-store", set()) == "corner-store"
    assert first_free_slug("corner-store", {"corner-store", "corner-store-2"}) == "corner-store-3"


def test_first_free_slug_skips_candidates_that_read_as_ids():
    assert first_free_slug(HEX32, set()) == HEX32 + "-2"
    assert first_free_slug("01234567-89ab-cdef-0123-456789abcdef", set()) == (
        "01234567-89ab-cdef-0123-456789abcdef-2"
    )
    # 31 hex digits: free as is, but numbered 2 to 9 it would be 32 hex digits
    base = HEX32[:-1]
    assert first_free_slug(base, set()) == base
    assert first_free_slug(base, {base}) == base + "-10"


def test_suffixed_slug_draws_again_when_the_suffix_completes_an_id():
    base = HEX32[:26]
    suffixes = itertools.chain(["abcdef"], itertools.repeat("a1b2c3d"))
    assert suffixed_slug(base, lambda: next(suffixes)) == base + "-a1b2c3d"


def test_validator_refuses_an_id_looking_slug():
    with pytest.raises(ValidationError) as caught:
        validate_slug_not_uuid(HEX32)
    assert caught.value.code == "slug_is_uuid"
    validate_slug_not_uuid(HEX32 + "-2")


def test_id_or_slug_looks_up_a_uuid_text_both_ways_and_orders_the_id_first():
    pk = uuid.UUID(HEX32)
    assert str(id_or_slug("lamp")) == str(id_or_slug("lamp", prefix=""))
    assert id_first("lamp") == ()
    lookup = id_or_slug(HEX32, prefix="shop__")
    assert ("shop__pk", pk) in lookup.children
    assert ("shop__slug", HEX32) in lookup.children
    assert lookup.connector == "OR"
    assert len(id_first(HEX32)) == 1
