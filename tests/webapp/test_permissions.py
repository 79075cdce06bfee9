"""The one permission function: every role x capability, outsiders and anonymous users get 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from webapp.cases.permissions import Capability, CaseNotFound, authorize, can

ALLOWED = {
    "viewer": {Capability.VIEW},  # read-only: a search is a write (see docs/security.md)
    "editor": {
        Capability.VIEW,
        Capability.SEARCH,
        Capability.REVIEW,
        Capability.UPLOAD,
        Capability.EDIT,
        Capability.EXPORT,
    },
    "owner": set(Capability),
}


@pytest.mark.parametrize("role", ["viewer", "editor", "owner"])
@pytest.mark.parametrize("capability", list(Capability))
def test_roles_grant_exactly_their_capabilities(
    role: str, capability: Capability, case: Any, member_of: Any
) -> None:
    user = case.owner if role == "owner" else member_of(role)
    if capability in ALLOWED[role]:
        access = authorize(user, case.pk, capability)
        assert access.case == case
        assert access.role == role
    else:
        with pytest.raises(PermissionDenied):
            authorize(user, case.pk, capability)


def test_outsider_staff_and_anonymous_get_the_same_404_as_a_missing_case(case: Any, make_user: Any) -> None:
    outsider = make_user()
    staff = make_user(is_staff=True, is_superuser=True)
    for user in (outsider, staff, AnonymousUser()):
        with pytest.raises(CaseNotFound) as existing:
            authorize(user, case.pk)
        with pytest.raises(CaseNotFound) as missing:
            authorize(user, case.pk + 1000)
        assert str(existing.value) == str(missing.value)
        assert not can(user, case.pk)


def test_inactive_member_has_no_access(case: Any) -> None:
    case.owner.is_active = False
    case.owner.save()
    with pytest.raises(CaseNotFound):
        authorize(case.owner, case)


def test_access_ends_when_membership_is_removed(case: Any, member_of: Any) -> None:
    from webapp.cases import services

    viewer = member_of("viewer")
    assert can(viewer, case.pk)
    services.remove_member(case=case, user=viewer, actor=case.owner)
    assert not can(viewer, case.pk)
