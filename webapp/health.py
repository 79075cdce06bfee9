"""GET /healthz for container health checks and load balancers.

A middleware placed first, so it answers before the host check and the HTTPS redirect: a probe from inside
the container (Host 127.0.0.1, plain HTTP) must not need to be an allowed host or to speak TLS. It tells
nothing about cases or users, only whether this process and its database answer.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

PATH = "/healthz"


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != PATH or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception:
            return JsonResponse({"ok": False, "database": "unreachable"}, status=503)
        response = JsonResponse({"ok": True})
        response["Cache-Control"] = "no-store"
        return response
