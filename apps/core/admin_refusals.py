"""Admin change forms that save through services: a domain refusal raised while saving (a rule
the form could not check, or rows that changed in between) is shown as an error message, and the
whole request is rolled back (the admin runs a save in one transaction), instead of a 500."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from apps.core.errors import DomainError


class ServiceRefusalsAdmin(admin.ModelAdmin):
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
