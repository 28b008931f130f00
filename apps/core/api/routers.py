from rest_framework.routers import SimpleRouter


class ApiRouter(SimpleRouter):
    """The router of every app's API (`apps/<app>/api/urls.py`): paths without a trailing slash,
    as the contract writes them, built as path() patterns rather than regexes, so that a prefix
    may hold its parent's converter (`products/<str:ident>/variants`) and config/urls.py can
    mount every app's patterns flat."""

    def __init__(self) -> None:
        super().__init__(trailing_slash=False, use_regex_path=False)
