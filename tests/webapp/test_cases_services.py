"""Case services: creation, membership, share links (hashed, expiring, revocable), ownership, deletion."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from webapp.audit.models import AuditEvent
from webapp.cases import selectors, services
from webapp.cases.models import Case, Membership, Role, ShareLink


def actions(case: Case) -> list[str]:
    return list(AuditEvent.objects.filter(case_id=case.pk).order_by("id").values_list("action", flat=True))


def test_create_case_makes_the_creator_owner_and_logs_it(owner: Any) -> None:
    case = services.create_case(owner=owner, title="  Harbour  ", description=" night shift ")
    assert (case.title, case.description) == ("Harbour", "night shift")
    assert Membership.objects.get(case=case, user=owner).role == Role.OWNER
    assert actions(case) == ["case.create"]


def test_blank_title_is_refused_and_nothing_is_created(owner: Any) -> None:
    with pytest.raises(ValidationError):
        services.create_case(owner=owner, title="   ")
    assert not Case.objects.exists()


def test_case_list_shows_only_my_cases_with_my_role(case: Any, make_user: Any, member_of: Any) -> None:
    viewer = member_of("viewer")
    other = make_user()
    services.create_case(owner=other, title="Someone else's")
    mine = list(selectors.cases_for(user=viewer))
    assert [c.pk for c in mine] == [case.pk]
    assert mine[0].my_role == "viewer"
    assert mine[0].member_count == 2


def test_share_link_is_stored_hashed_and_grants_its_role_once_redeemed(case: Any, make_user: Any) -> None:
    new = services.create_share_link(
        case=case, actor=case.owner, role=Role.VIEWER, expires_in=timedelta(days=1)
    )
    stored = ShareLink.objects.get(pk=new.link.pk)
    assert stored.token_hash == hashlib.sha256(new.token.encode()).hexdigest()
    assert new.token not in {stored.token_hash, stored.token_prefix, stored.label}
    guest = make_user()
    membership = services.redeem_share_link(token=new.token, user=guest)
    assert membership.role == Role.VIEWER
    stored.refresh_from_db()
    assert stored.uses == 1
    assert actions(case)[-2:] == ["share.create", "share.redeem"]


@pytest.mark.parametrize("state", ["revoked", "expired", "unknown"])
def test_revoked_expired_and_unknown_links_are_refused_alike(case: Any, make_user: Any, state: str) -> None:
    new = services.create_share_link(
        case=case, actor=case.owner, role=Role.EDITOR, expires_in=timedelta(hours=1)
    )
    token = new.token
    if state == "revoked":
        assert services.revoke_share_link(link=new.link, actor=case.owner)
        assert not services.revoke_share_link(link=new.link, actor=case.owner)  # twice is a no-op
    elif state == "expired":
        ShareLink.objects.filter(pk=new.link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        token = token[::-1]
    guest = make_user()
    with pytest.raises(services.ShareLinkInvalid, match="not valid any more"):
        services.redeem_share_link(token=token, user=guest)
    assert not Membership.objects.filter(user=guest).exists()


def test_share_link_limits(case: Any) -> None:
    with pytest.raises(ValidationError):
        services.create_share_link(case=case, actor=case.owner, role=Role.OWNER, expires_in=timedelta(days=1))
    with pytest.raises(ValidationError):
        services.create_share_link(
            case=case, actor=case.owner, role=Role.VIEWER, expires_in=timedelta(days=365)
        )


def test_redeeming_never_lowers_a_role(case: Any, member_of: Any) -> None:
    editor = member_of("editor")
    new = services.create_share_link(
        case=case, actor=case.owner, role=Role.VIEWER, expires_in=timedelta(days=1)
    )
    assert services.redeem_share_link(token=new.token, user=editor).role == Role.EDITOR


def test_owner_cannot_leave_or_be_demoted_but_can_transfer(case: Any, member_of: Any) -> None:
    editor = member_of("editor")
    with pytest.raises(ValidationError):
        services.remove_member(case=case, user=case.owner, actor=case.owner)
    with pytest.raises(ValidationError):
        services.add_member(case=case, user=case.owner, role=Role.VIEWER, actor=case.owner)
    old_owner = case.owner
    services.transfer_ownership(case=case, new_owner=editor, actor=old_owner)
    roles = dict(Membership.objects.filter(case=case).values_list("user__username", "role"))
    assert roles == {editor.username: Role.OWNER, old_owner.username: Role.EDITOR}
    assert Case.objects.get(pk=case.pk).owner == editor


def test_delete_case_removes_rows_and_files_but_keeps_the_audit_trail(case: Any, settings: Any) -> None:
    folder = Path(settings.MEDIA_ROOT) / "cases" / str(case.pk) / "videos" / "1"
    folder.mkdir(parents=True)
    (folder / "original.avi").write_bytes(b"x")
    case_id = case.pk
    services.delete_case(case=case, actor=case.owner)
    assert not Case.objects.filter(pk=case_id).exists()
    assert not folder.parent.parent.exists()
    events = list(AuditEvent.objects.filter(case_id=case_id).values_list("action", "case_label"))
    assert ("case.delete", "Station platform") in events


def test_a_case_being_deleted_stops_its_jobs_through_the_jobs_app(case: Any) -> None:
    """cases does not import jobs: delete_case sends case_deleting and the jobs app's receiver cancels."""
    from webapp.cases.signals import case_deleting
    from webapp.jobs.models import Job, JobKind, JobStatus

    queued = Job.objects.create(case=case, kind=JobKind.SELFCHECK, status=JobStatus.QUEUED)
    running = Job.objects.create(case=case, kind=JobKind.SELFCHECK, status=JobStatus.RUNNING)
    done = Job.objects.create(case=case, kind=JobKind.SELFCHECK, status=JobStatus.DONE)
    case_deleting.send(sender=Case, case=case, actor=case.owner)
    queued.refresh_from_db(), running.refresh_from_db(), done.refresh_from_db()
    assert queued.status == JobStatus.CANCELLED
    assert running.status == JobStatus.RUNNING and running.cancel_requested  # stops at its next report
    assert done.status == JobStatus.DONE and not done.cancel_requested
