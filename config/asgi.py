"""The ASGI app (uvicorn in the production stack) serves the SSE stream only: nginx routes that
one path here and everything else to gunicorn; any other path answers 404 here."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
django_application = get_asgi_application()

from apps.core.exceptions import problem  # noqa: E402  (after Django is set up)

STREAM_PATH = "/api/v1/notifications/stream"
NOT_HERE = problem(
    status=404,
    code="not_found",
    title="Not found",
    detail=f"This server serves only {STREAM_PATH}; the API is behind the same address.",
)


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] != STREAM_PATH:
        import orjson

        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"application/problem+json")],
            }
        )
        await send({"type": "http.response.body", "body": orjson.dumps(NOT_HERE)})
        return
    await django_application(scope, receive, send)
