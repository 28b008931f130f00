from typing import Any
from uuid import UUID

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from apps.core.openapi import problem_responses
from apps.imports import selectors, services
from apps.imports.api.serializers import ImportCreateInput, ImportJobOutput
from apps.users.request_user import request_user

TAGS = ["imports"]

QUEUED_EXAMPLE = {
    "id": "5b0f7c3e-2d4a-4c1e-9f6b-8a7d2e1c0b94",
    "kind": "products",
    "format": "csv",
    "file_name": "spring-catalog.csv",
    "dry_run": False,
    "status": "queued",
    "rows_total": 1200,
    "rows_processed": 0,
    "counts": {"new": 0, "updated": 0, "skipped": 0, "invalid": 0},
    "errors": [],
    "created_at": "2026-12-07T09:00:00Z",
    "started_at": None,
    "finished_at": None,
}
FAILED_EXAMPLE = {
    **QUEUED_EXAMPLE,
    "status": "failed",
    "rows_processed": 1200,
    "counts": {"new": 1180, "updated": 0, "skipped": 18, "invalid": 2},
    "errors": [
        {"row": 14, "column": "price", "detail": "Must be an amount such as 19.99."},
        {"row": 97, "column": "attr.size", "detail": "Must be one of: XS, S, M, L, XL."},
    ],
    "started_at": "2026-12-07T09:00:01Z",
    "finished_at": "2026-12-07T09:00:09Z",
}


class IsShopOwner(BasePermission):
    """The caller has a shop: imports go into the caller's own shop (staff use the admin)."""

    message = "Only sellers may import. Open a shop first."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and hasattr(user, "shop"))


class SellerImportJobViewSet(viewsets.GenericViewSet):
    """A seller's import jobs: upload a file (throttled, `imports`), then follow the job."""

    permission_classes = [IsShopOwner]
    serializer_class = ImportCreateInput  # what OPTIONS describes
    parser_classes = (MultiPartParser, FormParser)  # the upload's; the job's read has no body
    throttle_scope = "imports"
    lookup_field = "job_id"
    lookup_value_converter = "uuid"

    def get_throttles(self) -> list:
        if self.action == "create":
            return [*super().get_throttles(), ScopedRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        tags=TAGS,
        operation_id="seller_import_create",
        summary="Import products or stock levels from a CSV or XLSX file",
        description=(
            "Stores the file as an import job of the caller's shop and answers 202 at once; a "
            "worker runs it. The import is all or nothing: if any row is refused, nothing is "
            "saved and the job ends `failed` with each problem as `{row, column, detail}`. "
            "Rows are matched by SKU; a row equal to what is stored is skipped, so the same "
            "file imported twice changes nothing. `dry_run=true` only checks and reports. "
            "Product columns: `handle, type, name, description, category, sku, price, stock, "
            "attr.<name>, option.<name>`; stock columns: `sku, on_hand, low_stock_threshold`. "
            "A file that cannot be read (format, size, no `sku` column, no rows) is 400 "
            "`import.invalid_file`. Follow the job with `GET /seller/imports/{id}`."
        ),
        request={"multipart/form-data": ImportCreateInput},
        responses={
            202: ImportJobOutput,
            **problem_responses(403, codes={400: ["import.invalid_file"]}),
        },
        examples=[OpenApiExample("Queued", value=QUEUED_EXAMPLE, response_only=True)],
    )
    def create(self, request: Request) -> Response:
        body = ImportCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        user = request_user(request)
        job = services.import_job_create(
            actor=user,
            shop=user.shop,
            kind=body.validated_data["kind"],
            file_name=upload.name or "",
            data=upload.read(settings.IMPORT_MAX_BYTES + 1),  # one byte over is enough
            dry_run=body.validated_data["dry_run"],
        )
        job = selectors.seller_import_job(user=user, job_id=job.pk)
        return Response(ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        tags=TAGS,
        operation_id="seller_import_get",
        summary="An import job: status, progress, counts and row errors",
        description=(
            "`status` is `queued`, `running`, `succeeded` or `failed`; `rows_processed` grows "
            "while it runs. `counts` says how many rows were new, updated, skipped (unchanged) "
            "or refused; `errors` lists each problem of each refused row. Another shop's job "
            "is 404."
        ),
        responses={
            200: ImportJobOutput,
            **problem_responses(403, codes={404: ["import.not_found"]}),
        },
        examples=[OpenApiExample("Refused rows", value=FAILED_EXAMPLE, response_only=True)],
    )
    def retrieve(self, request: Request, job_id: UUID) -> Response:
        job = selectors.seller_import_job(user=request_user(request), job_id=job_id)
        return Response(ImportJobOutput(job).data)
