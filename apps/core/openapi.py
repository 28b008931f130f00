"""OpenAPI pieces for errors: every app documents its problem+json responses with these.

    @extend_schema(
        request=ProductCreateInput,
        responses={201: ProductOutput, **problem_responses(400, 401, 403,
                   codes={409: ["catalog.sku_taken"]})},
    )

The schema class also adds what every operation can give without being told: 400 for operations
with a body or query parameters, 401 where authentication is required, 404 where the path names an
object (or a paginated list can be paged past its end), 429 where throttles apply, and on POST the
optional `Idempotency-Key` header with its 422 `idempotency.key_reused`.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, AllowAny

from apps.core.exceptions import PROBLEM_CONTENT_TYPE

# Paths whose requests the API-key middleware (apps.users.middleware) does not look at: the
# liveness probe and the payment provider's webhook (signed by the provider).
API_KEY_EXEMPT_PATHS = frozenset({"/api/v1/health/live", "/api/v1/payments/webhooks/stripe"})

PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request or invalid input; `errors` points at each invalid field.",
    401: "Missing, invalid or expired credentials.",
    403: "Authenticated but not allowed.",
    404: "Not found or not visible to the caller.",
    405: "Method not allowed.",
    409: "Conflict with the current state.",
    413: "Request body too large.",
    415: "Unsupported media type.",
    422: "Business rule violated, or `idempotency.key_reused`.",
    429: "Throttled; retry after the `Retry-After` header's seconds.",
    500: "Unexpected error; quote `request_id` when reporting it.",
    503: "A dependency is unavailable.",
}


class ProblemFieldErrorSerializer(serializers.Serializer):
    pointer = serializers.CharField(help_text="JSON Pointer into the request body, e.g. /items/0")
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `required`.")
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, the body of every error response."""

    type = serializers.URLField(help_text="A URL naming the error type; ends with `code`.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(
        help_text="Stable error code, e.g. `inventory.insufficient_stock`."
    )
    # A declared field is popped off the class by DRF's metaclass: Serializer.errors stays as
    # it is. The stubs cannot model that.
    errors = ProblemFieldErrorSerializer(  # type: ignore[assignment]
        many=True, required=False, help_text="Invalid fields (400 validation errors only)."
    )
    retry_after = serializers.IntegerField(required=False, help_text="Seconds (429 only).")
    request_id = serializers.CharField(required=False, help_text="500 only.")


def problem_response(status: int, codes: Iterable[str] = ()) -> OpenApiResponse:
    description = PROBLEM_DESCRIPTIONS.get(status, "Error.")
    codes = list(codes)
    if codes:
        description += " Codes: " + ", ".join(f"`{code}`" for code in codes) + "."
    return OpenApiResponse(response=ProblemSerializer, description=description)


def problem_responses(
    *statuses: int, codes: Mapping[int, Iterable[str]] | None = None
) -> dict[tuple[int, str], OpenApiResponse]:
    """`responses=` entries for problem+json errors: the given statuses plus those in `codes`,
    whose stable error codes are listed in the description."""
    codes = codes or {}
    return {
        (status, PROBLEM_CONTENT_TYPE): problem_response(status, codes.get(status, ()))
        for status in sorted({*statuses, *codes})
    }


DEMO_LOGIN = "Demo login: `{}`"  # tests/core/test_schema_rules.py reads the account from it


def demo_example(name: str, value: Any, *, login: str | None, summary: str = "") -> OpenApiExample:
    """A request body example that succeeds on a fresh demo database (`make run`,
    `manage.py seed_demo`), sent by the demo account `login` (None: no login).

    tests/core/test_schema_rules.py sends every such example to a freshly seeded database."""
    who = DEMO_LOGIN.format(login) if login else "No login needed."
    return OpenApiExample(
        name,
        value=value,
        summary=summary or name,
        description=f"{who} Works on the demo data of `make run`.",
        request_only=True,
    )


def demo_path_parameter(
    name: str, value: str, description: str, type: Any = str
) -> OpenApiParameter:
    """A path parameter with a value from the demo data, for "Try it out" and the examples."""
    return OpenApiParameter(
        name,
        type,
        OpenApiParameter.PATH,
        description=description,
        examples=[OpenApiExample("Demo", value=value)],
    )


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name="Idempotency-Key",
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Up to 255 characters. A retry with the same key (same caller, within 24 h) returns the "
        "first response with `Idempotent-Replayed: true` instead of acting again; the same key "
        "with a different body is 422 `idempotency.key_reused`."
    ),
)


API_KEY_SCHEME = "apiKeyAuth"  # declared in SPECTACULAR_SETTINGS["APPEND_COMPONENTS"]


def with_api_key(requirements: list[dict[str, list]]) -> list[dict[str, list]]:
    """The security requirements of an operation once `X-Api-Key` is taken into account: each
    alternative also with the key, and (unless the server requires a key) without it."""
    keyed = [{**requirement, API_KEY_SCHEME: []} for requirement in requirements]
    if settings.REQUIRE_API_KEY:
        return keyed
    return [*requirements, *keyed]


class ProblemAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the problem+json responses implied by the view itself, and
    the `X-Api-Key` alternatives of its security requirements."""

    def get_auth(self) -> list[Any]:
        requirements = super().get_auth()
        if self.path.rstrip("/") in API_KEY_EXEMPT_PATHS:
            return requirements
        return with_api_key(requirements)

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        # drf-spectacular offers no public hook for the responses a view implies: this override
        # and the two private helpers it asks are its internals (pinned by the schema tests).
        bodies = super()._get_response_bodies  # justified: no public hook (comment above)
        responses = bodies(direction)
        has_query = self._has_query_parameters()  # justified: drf-spectacular's, as above
        paginated = self._is_paginated_list()  # justified: drf-spectacular's, as above
        implied = []
        if self.method in ("POST", "PUT", "PATCH") or has_query:
            implied.append(400)
        if self.method in ("POST", "PUT", "PATCH"):
            implied.append(415)  # a body in a content type the view does not parse
        if "{" in self.path or paginated:
            implied.append(404)  # an unknown or invisible id; a page past the end
        permissions = self.view.get_permissions() if hasattr(self.view, "get_permissions") else []
        if any(not isinstance(permission, AllowAny) for permission in permissions):
            implied.append(401)
        if getattr(self.view, "get_throttles", None) and self.view.get_throttles():
            implied.append(429)
        codes: dict[int, list[str]] = {}
        if self.method not in SAFE_METHODS:
            # A permission that refuses with a code of its own (EmailVerified) says which.
            for permission in permissions:
                problem = getattr(permission, "schema_problem", None)
                if problem is None:
                    continue
                status, code = problem
                documented = responses.get(str(status))
                if documented is None:
                    implied.append(status)
                    codes.setdefault(status, []).append(code)
                elif f"`{code}`" not in documented.get("description", ""):
                    documented["description"] += f" Also `{code}`."
        if self.method == "POST":
            implied.append(422)
            codes[422] = ["idempotency.key_reused"]
        for code, response in responses.items():
            # An error documented with only a description (OpenApiResponse(description="x.y"))
            # still has the problem+json body every error has.
            if code.isdigit() and int(code) >= 400 and not response.get("content"):
                problem = self._get_response_for_code(
                    ProblemSerializer, code, [PROBLEM_CONTENT_TYPE], direction
                )
                response["content"] = problem["content"]
        for status in implied:
            if str(status) in responses:
                continue
            responses[str(status)] = self._get_response_for_code(
                problem_response(status, codes.get(status, ())),
                str(status),
                [PROBLEM_CONTENT_TYPE],
                direction,
            )
        return responses

    def _has_query_parameters(self) -> bool:
        """Query strings are validated (filters, flags): a bad value is a 400."""
        return any(p.get("in") == "query" for p in self._get_parameters())

    def _is_paginated_list(self) -> bool:
        return (
            self.method == "GET"
            and self._is_list_view()
            and getattr(self.view, "pagination_class", None) is not None
        )


class BearerJWTScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer <access token>` for our simplejwt subclass."""

    target_class = "apps.core.authentication.BearerJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106 (the scheme name, not a secret)
            bearer_format="JWT",
        )
