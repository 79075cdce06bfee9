"""Refused requests for a case's pages and objects go to the audit log (the views only raise; this records).

authorize() names the case it refused, also when the URL names only an object (a job id of another case),
so the refusal lands on that case's log. A member asking for an object their case does not hold gets the
same 404 without an entry: that is not a refusal of a case.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from webapp.audit import services
from webapp.cases.permissions import CaseNotFound, RoleDenied


class RefusedAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """authorize() raises CaseNotFound (not a member: 404) or RoleDenied (role: 403)."""
        if not isinstance(exception, CaseNotFound | RoleDenied) or exception.case_id is None:
            return
        services.record_refusal(
            user=request.user,
            case_id=exception.case_id,
            path=request.path,
            address=services.client_address(request),
            status=404 if isinstance(exception, CaseNotFound) else 403,
        )
