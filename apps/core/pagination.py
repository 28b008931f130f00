from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """Catalog lists: {count, next, previous, results}; ?page=&page_size= (at most 100)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class CursorPagination(pagination.CursorPagination):
    """Feeds (orders, notifications, comments, movements): {next, previous, results}."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering: tuple[str, ...] = ("-created_at", "-id")  # subclasses order by other keys
