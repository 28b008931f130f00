from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    """Catalog lists: {count, next, previous, results}; ?page=&page_size= (at most 100).

    A `page` that is not a positive whole number is malformed: 400 with the pointer `/page`
    (DRF answers 404 "Invalid page"); a page past the last one stays 404."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_number(self, request: Any, paginator: Any) -> Any:
        raw = request.query_params.get(self.page_query_param)
        if raw is None or raw in self.last_page_strings or _positive_whole_number(raw):
            return super().get_page_number(request, paginator)
        raise ValidationError({self.page_query_param: ["A page number is a whole number from 1."]})


def _positive_whole_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) >= 1


class CursorPagination(pagination.CursorPagination):
    """Feeds (orders, notifications, comments, movements): {next, previous, results}.

    A `cursor` that is not one we issued is malformed: 400 with the pointer `/cursor` (DRF
    answers 404 "Invalid cursor")."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering: tuple[str, ...] = ("-created_at", "-id")  # subclasses order by other keys

    def decode_cursor(self, request: Any) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError(
                {self.cursor_query_param: ["Not a cursor from this list's next or previous link."]}
            ) from exc
