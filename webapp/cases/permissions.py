"""The one place that decides what a user may do with a case. Every view, API, media path, websocket and task
entry calls authorize(). Outsiders (and anonymous users) get CaseNotFound, a 404, never a 403: a case's
existence is not leaked. A member whose role lacks a capability gets PermissionDenied (they know it exists).
Staff and superusers have no implicit access to cases; operators use the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils import timezone

from webapp.cases.models import Case, Membership, Role


class Capability(StrEnum):
    VIEW = "view"  # see the case, its footage, results and job progress
    SEARCH = "search"  # run searches by photo; choose, re-run and refine them (editors and the owner)
    REVIEW = "review"  # confirm or reject hits
    UPLOAD = "upload"  # add footage, start ingestion and system checks
    EDIT = "edit"  # change title/description, delete footage, cancel jobs
    EXPORT = "export"  # download reports and evidence clips
    SHARE = "share"  # invite members, create and revoke share links
    MANAGE = "manage"  # delete the case, transfer ownership, lock as evidence, read the case's audit log


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    # Viewers read: footage, results (the hits are not secret from members; EXPORT guards the documents
    # that leave the system) and job progress. A search is a write (a stored query, a job, its hits), so
    # viewers neither start one nor choose, re-run or refine anyone's.
    Role.VIEWER: frozenset({Capability.VIEW}),
    Role.EDITOR: frozenset(
        {
            Capability.VIEW,
            Capability.SEARCH,
            Capability.REVIEW,
            Capability.UPLOAD,
            Capability.EDIT,
            Capability.EXPORT,
        }
    ),
    Role.OWNER: frozenset(Capability),
}


class CaseNotFound(Http404):
    """Raised for a missing case and for a case the user may not see: the two must look the same.
    ``case_id``: the case that was asked for, for the audit log only (never in the answer)."""

    def __init__(self, case_id: int | None = None) -> None:
        super().__init__("No such case.")
        self.case_id = case_id


class RoleDenied(PermissionDenied):
    """A member whose role lacks the capability (403); ``case_id`` as for CaseNotFound."""

    def __init__(self, message: str, case_id: int) -> None:
        super().__init__(message)
        self.case_id = case_id


@dataclass(frozen=True)
class CaseAccess:
    case: Case
    role: str

    def allows(self, capability: Capability) -> bool:
        return capability in ROLE_CAPABILITIES[self.role]


User = AbstractBaseUser | AnonymousUser


def authorize(user: User, case: Case | int, capability: Capability = Capability.VIEW) -> CaseAccess:
    """Return the user's access to the case if the role grants the capability.

    Raises CaseNotFound (404) when the user is not a member (or the case does not exist), PermissionDenied
    (403) when a member's role lacks the capability.
    """
    case_id = case.pk if isinstance(case, Case) else case
    if not user.is_authenticated or not user.is_active:
        raise CaseNotFound(case_id)
    membership = Membership.objects.select_related("case").filter(case_id=case_id, user_id=user.pk).first()
    if membership is None:
        raise CaseNotFound(case_id)
    access = CaseAccess(case=membership.case, role=membership.role)
    if not access.allows(capability):
        raise RoleDenied(f"Your role ({membership.role}) does not allow this.", case_id)
    return access


def can(user: User, case: Case | int, capability: Capability = Capability.VIEW) -> bool:
    """authorize() as a yes/no, for templates and websocket handshakes."""
    try:
        authorize(user, case, capability)
    except (CaseNotFound, PermissionDenied):
        return False
    return True


def live_access(session_key: str | None, case_id: int) -> datetime | None:
    """For a case websocket: when the session behind it ends, if that session's user may still see the
    case now, else None. Read afresh from the session store and the database (never from the socket's
    scope, which was filled once at the handshake): a logged-out, expired or password-changed session, a
    deactivated account and a removed membership all answer None."""
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    request = HttpRequest()
    request.session = store
    user = get_user(request)  # checks the session's auth hash and the account, as for a page request
    if not can(user, case_id, Capability.VIEW):
        return None
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db":
        # The stored expiry, not "now + age" that get_expiry_date() computes for an unmodified session.
        expires: datetime | None = (
            Session.objects.filter(session_key=session_key).values_list("expire_date", flat=True).first()
        )
        return expires if expires is not None and expires > timezone.now() else None
    expiry: datetime = store.get_expiry_date()
    return expiry
