"""`OPTIONS` answers (DRF's metadata) for ViewSets: each method judged as the action it runs."""

from typing import Any

from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request


class ActionMetadata(SimpleMetadata):
    """DRF describes the fields a `POST` or `PUT` accepts when the caller may send it, but on a
    ViewSet it checks the permissions as the `metadata` action, so a route whose permissions
    depend on the action (anyone lists shops, a signed-in user opens one) described its `POST`
    fields to anyone. Here each method is checked as the action it maps to."""

    def determine_actions(self, request: Request, view: Any) -> dict[str, Any]:
        action_map = getattr(view, "action_map", None)
        if not action_map:
            return super().determine_actions(request, view)
        described: dict[str, Any] = {}
        try:
            for method, action in action_map.items():
                if method.upper() not in ("POST", "PUT"):
                    continue
                view.action = action
                fields = super().determine_actions(request, view).get(method.upper())
                if fields is not None:
                    described[method.upper()] = fields
        finally:
            view.action = "metadata"
        return described
