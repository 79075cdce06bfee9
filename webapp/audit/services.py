"""Writing audit events. The only way rows enter the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone

from webapp.audit.actions import AuditAction
from webapp.audit.models import AuditEvent

if TYPE_CHECKING:  # audit is the lowest app: every other app writes here, so it imports none of them
    from webapp.cases.models import Case


def client_address(request: HttpRequest | None) -> str | None:
    """The peer address. Behind a reverse proxy, the proxy must pass the client in REMOTE_ADDR
    (e.g. nginx real_ip); X-Forwarded-For is not trusted here because clients can forge it."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    *,
    action: AuditAction,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    case: Case | None = None,
    target: Model | None = None,
    request: HttpRequest | None = None,
    details: dict[str, Any] | None = None,
    actor_label: str | None = None,
    address: str | None = None,
) -> AuditEvent:
    if actor is None and request is not None:
        actor = request.user
    user = actor if actor is not None and actor.is_authenticated else None
    label = actor_label or (user.get_username() if user is not None else "anonymous")
    return AuditEvent.objects.create(
        action=action,
        actor_id=user.pk if user is not None else None,
        actor_label=label[:150],
        case_id=case.pk if case is not None else None,
        case_label=case.title[:200] if case is not None else "",
        target_type=target._meta.model_name or "" if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        client_address=address or client_address(request),
        details=details or {},
    )


# One refusal entry per user (per client address when anonymous) and case in this window: an attacker
# walking ids shows up without filling the log.
REFUSAL_WINDOW_S = 60


def record_refusal(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    case_id: int,
    path: str,
    address: str | None,
    status: int = 404,
) -> AuditEvent | None:
    """Record that someone was refused a case's page, object or websocket (404 for outsiders, 403 for a
    role that lacks the capability), so the owner sees attempts on the case log. Refusals for cases that
    do not exist are not recorded: there is nobody to show them to."""
    case = apps.get_model("cases", "Case").objects.filter(pk=case_id).first()
    if case is None:
        return None
    signed_in = user is not None and user.is_authenticated
    recent = AuditEvent.objects.filter(
        action=AuditAction.ACCESS_REFUSED,
        case_id=case_id,
        created_at__gte=timezone.now() - timedelta(seconds=REFUSAL_WINDOW_S),
    )
    recent = (
        recent.filter(actor_id=user.pk)
        if signed_in and user is not None
        else recent.filter(actor_id__isnull=True, client_address=address)
    )
    if recent.exists():
        return None
    return record(
        action=AuditAction.ACCESS_REFUSED,
        actor=user,
        case=case,
        address=address,
        details={"path": path[:300], "status": status},
    )
