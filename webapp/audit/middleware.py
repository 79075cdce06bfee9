"""Refused requests on a case's URLs go to the audit log (the views only raise; this records)."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from webapp.audit import services
from webapp.cases.permissions import CaseNotFound


class RefusedAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """authorize() raises CaseNotFound (not a member: 404) or PermissionDenied (role: 403)."""
        if not isinstance(exception, CaseNotFound | PermissionDenied):
            return
        match = request.resolver_match
        case_id = match.kwargs.get("case_id") if match is not None else None
        if not isinstance(case_id, int):
            return
        services.record_refusal(
            user=request.user,
            case_id=case_id,
            path=request.path,
            address=services.client_address(request),
            status=404 if isinstance(exception, CaseNotFound) else 403,
        )
