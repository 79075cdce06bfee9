"""Logins, logouts, failed logins and lockouts (django-axes) go to the audit log."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from webapp.audit import services
from webapp.audit.actions import AuditAction


@receiver(user_logged_in)
def _logged_in(sender: Any, request: HttpRequest, user: Any, **_: Any) -> None:
    services.record(action=AuditAction.LOGIN, actor=user, request=request)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest, user: Any, **_: Any) -> None:
    if user is not None:
        services.record(action=AuditAction.LOGOUT, actor=user, request=request)


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    # The username tried is kept (it may not exist); the password never is.
    tried = str(credentials.get("username", ""))[:150]
    services.record(action=AuditAction.LOGIN_FAILED, actor_label=f"anonymous ({tried})", request=request)


@receiver(user_locked_out)
def _locked_out(sender: Any, request: HttpRequest, username: str | None = None, **_: Any) -> None:
    services.record(
        action=AuditAction.LOCKED_OUT, actor_label=f"anonymous ({str(username or '')[:120]})", request=request
    )
