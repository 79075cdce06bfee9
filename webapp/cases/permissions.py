"""The one place that decides what a user may do with a case. Every view, API, media path, websocket and task
entry calls authorize(). Outsiders (and anonymous users) get CaseNotFound, a 404, never a 403: a case's
existence is not leaked. A member whose role lacks a capability gets PermissionDenied (they know it exists).
Staff and superusers have no implicit access to cases; operators use the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from webapp.cases.models import Case, Membership, Role


class Capability(StrEnum):
    VIEW = "view"  # see the case, its footage, results and job progress
    SEARCH = "search"  # run searches by photo
    REVIEW = "review"  # confirm or reject hits
    UPLOAD = "upload"  # add footage, start ingestion and system checks
    EDIT = "edit"  # change title/description, delete footage, cancel jobs
    EXPORT = "export"  # download reports and evidence clips
    SHARE = "share"  # invite members, create and revoke share links
    MANAGE = "manage"  # delete the case, transfer ownership, lock as evidence, read the case's audit log


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.VIEWER: frozenset({Capability.VIEW, Capability.SEARCH}),
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
    """Raised for a missing case and for a case the user may not see: the two must look the same."""

    def __init__(self) -> None:
        super().__init__("No such case.")


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
    if not user.is_authenticated or not user.is_active:
        raise CaseNotFound
    case_id = case.pk if isinstance(case, Case) else case
    membership = Membership.objects.select_related("case").filter(case_id=case_id, user_id=user.pk).first()
    if membership is None:
        raise CaseNotFound
    access = CaseAccess(case=membership.case, role=membership.role)
    if not access.allows(capability):
        raise PermissionDenied(f"Your role ({membership.role}) does not allow this.")
    return access


def can(user: User, case: Case | int, capability: Capability = Capability.VIEW) -> bool:
    """authorize() as a yes/no, for templates and websocket handshakes."""
    try:
        authorize(user, case, capability)
    except (CaseNotFound, PermissionDenied):
        return False
    return True
