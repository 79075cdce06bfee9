"""Writes for cases, membership and share links. Callers authorize first (views) or are trusted (admin)."""

from __future__ import annotations

import hashlib
import secrets
import shutil
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from webapp.audit import services as audit
from webapp.audit.actions import AuditAction
from webapp.cases.models import Case, Membership, Role, ShareLink
from webapp.cases.signals import case_deleting

SHARE_LINK_MAX_DAYS = 90


class EvidenceLocked(Exception):
    """A change to evidence (footage, hits, verdicts) of a case locked as evidence."""

    def __init__(self) -> None:
        super().__init__("The case is locked as evidence: its footage, results and verdicts cannot change.")


def ensure_unlocked(case_id: int) -> None:
    """Refuse to change a locked case's evidence. New footage may still be added (an investigation goes
    on; nothing recorded so far changes, and each upload is audited with its sha256), and new searches may
    run; deleting or editing videos, re-running a search over its stored hits and verdicts may not.
    Unlocking is the owner's (Capability.MANAGE) and is audit-logged."""
    if Case.objects.filter(pk=case_id, locked=True).exists():
        raise EvidenceLocked


def case_media_dir(case_id: int) -> str:
    return str(settings.MEDIA_ROOT / "cases" / str(case_id))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def create_case(
    *, owner: User, title: str, description: str = "", request: HttpRequest | None = None
) -> Case:
    title = title.strip()
    if not title:
        raise ValidationError({"title": "Give the case a title."})
    case = Case.objects.create(owner=owner, title=title[:200], description=description.strip())
    Membership.objects.create(case=case, user=owner, role=Role.OWNER, added_by=owner)
    audit.record(action=AuditAction.CASE_CREATE, actor=owner, case=case, target=case, request=request)
    return case


@transaction.atomic
def update_case(
    *, case: Case, actor: User, title: str, description: str, request: HttpRequest | None = None
) -> Case:
    title = title.strip()
    if not title:
        raise ValidationError({"title": "Give the case a title."})
    case.title, case.description = title[:200], description.strip()
    case.save(update_fields=["title", "description", "updated_at"])
    audit.record(action=AuditAction.CASE_UPDATE, actor=actor, case=case, target=case, request=request)
    return case


def delete_case(*, case: Case, actor: User, request: HttpRequest | None = None) -> None:
    """Delete rows, then the case's folder (footage, renditions, posters, crops, thumbnails, query photos,
    vector index, exports): everything a case stores lives under cases/<id>/. Running jobs are asked to stop
    first; one that writes after this finds its rows gone and fails without recreating anything."""
    folder = case_media_dir(case.pk)
    case_deleting.send(sender=Case, case=case, actor=actor)
    with transaction.atomic():
        audit.record(action=AuditAction.CASE_DELETE, actor=actor, case=case, target=case, request=request)
        case.delete()
    shutil.rmtree(folder, ignore_errors=True)


@transaction.atomic
def add_member(
    *,
    case: Case,
    user: User,
    role: str,
    actor: User | None,
    request: HttpRequest | None = None,
) -> Membership:
    """Add a member, or change an existing member's role (never demotes the owner)."""
    if role not in (Role.EDITOR, Role.VIEWER):
        raise ValidationError({"role": "Members are editors or viewers; ownership is transferred instead."})
    membership, created = Membership.objects.get_or_create(
        case=case, user=user, defaults={"role": role, "added_by": actor}
    )
    if not created:
        if membership.role == Role.OWNER:
            raise ValidationError({"role": "The owner's role cannot be changed; transfer ownership instead."})
        membership.role = role
        membership.save(update_fields=["role"])
    audit.record(
        action=AuditAction.MEMBER_ADD if created else AuditAction.MEMBER_ROLE,
        actor=actor,
        case=case,
        target=membership,
        request=request,
        details={"user": user.get_username(), "role": role},
    )
    return membership


class MemberNotFound(ValidationError):
    """No account has that username or email."""


def find_user(identifier: str) -> User:
    """The active account with this username or email (case-insensitive); emails shared by several accounts
    are ambiguous and refused rather than guessed."""
    from django.contrib.auth import get_user_model

    identifier = identifier.strip()
    if not identifier:
        raise MemberNotFound("Give a username or an email address.")
    users = get_user_model().objects.filter(is_active=True)
    found = list(users.filter(username__iexact=identifier)[:2])
    if not found and "@" in identifier:
        found = list(users.filter(email__iexact=identifier)[:2])
    if len(found) != 1:
        raise MemberNotFound(f"No single account is called or has the email “{identifier[:100]}”.")
    return found[0]


def invite_member(
    *, case: Case, identifier: str, role: str, actor: User, request: HttpRequest | None = None
) -> Membership:
    """Add a colleague by username or email with a role (or change the role of an existing member)."""
    return add_member(case=case, user=find_user(identifier), role=role, actor=actor, request=request)


@transaction.atomic
def remove_member(*, case: Case, user: User, actor: User, request: HttpRequest | None = None) -> None:
    """Remove a member (or let a member leave). The owner cannot leave: transfer ownership first."""
    membership = Membership.objects.select_for_update().get(case=case, user=user)
    if membership.role == Role.OWNER:
        raise ValidationError("The owner cannot leave the case; transfer ownership first.")
    membership.delete()
    audit.record(
        action=AuditAction.MEMBER_LEAVE if user.pk == actor.pk else AuditAction.MEMBER_REMOVE,
        actor=actor,
        case=case,
        request=request,
        details={"user": user.get_username()},
    )


@transaction.atomic
def transfer_ownership(
    *, case: Case, new_owner: User, actor: User, request: HttpRequest | None = None
) -> Case:
    """The new owner must already be a member; the old owner stays on as an editor."""
    target = Membership.objects.select_for_update().filter(case=case, user=new_owner).first()
    if target is None:
        raise ValidationError("Add the person as a member before making them the owner.")
    Membership.objects.filter(case=case, role=Role.OWNER).update(role=Role.EDITOR)
    target.role = Role.OWNER
    target.save(update_fields=["role"])
    case.owner = new_owner
    case.save(update_fields=["owner", "updated_at"])
    audit.record(
        action=AuditAction.CASE_TRANSFER,
        actor=actor,
        case=case,
        request=request,
        details={"new_owner": new_owner.get_username()},
    )
    return case


@dataclass(frozen=True)
class NewShareLink:
    link: ShareLink
    token: str  # shown to the creator once; only its hash is stored


def create_share_link(
    *,
    case: Case,
    actor: User,
    role: str,
    expires_in: timedelta,
    label: str = "",
    request: HttpRequest | None = None,
) -> NewShareLink:
    if role not in (Role.EDITOR, Role.VIEWER):
        raise ValidationError({"role": "A link grants the editor or viewer role."})
    if not timedelta(minutes=5) <= expires_in <= timedelta(days=SHARE_LINK_MAX_DAYS):
        raise ValidationError({"expires_in": f"Links last from 5 minutes to {SHARE_LINK_MAX_DAYS} days."})
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        link = ShareLink.objects.create(
            case=case,
            token_hash=hash_token(token),
            token_prefix=token[:8],
            role=role,
            label=label.strip()[:200],
            created_by=actor,
            expires_at=timezone.now() + expires_in,
        )
        audit.record(
            action=AuditAction.SHARE_CREATE,
            actor=actor,
            case=case,
            target=link,
            request=request,
            details={"role": role, "expires_at": link.expires_at.isoformat()},
        )
    return NewShareLink(link=link, token=token)


@transaction.atomic
def revoke_share_link(*, link: ShareLink, actor: User, request: HttpRequest | None = None) -> bool:
    """Revoke a link; False when it was already revoked."""
    updated = ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if updated:
        audit.record(
            action=AuditAction.SHARE_REVOKE, actor=actor, case=link.case, target=link, request=request
        )
    return bool(updated)


class ShareLinkInvalid(Exception):
    """The token is unknown, expired or revoked (the three are not told apart)."""


@transaction.atomic
def redeem_share_link(*, token: str, user: User, request: HttpRequest | None = None) -> Membership:
    """Grant the link's role to a logged-in user. An existing member keeps the higher of the two roles."""
    link = (
        ShareLink.objects.select_for_update()
        .select_related("case")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if link is None or not link.is_active():
        audit.record(
            action=AuditAction.SHARE_REDEEM_FAILED,
            actor=user,
            request=request,
            case=link.case if link is not None else None,
            target=link,
        )
        raise ShareLinkInvalid("This link is not valid any more. Ask the case owner for a new one.")
    membership, created = Membership.objects.get_or_create(
        case=link.case, user=user, defaults={"role": link.role, "added_by": link.created_by}
    )
    if not created and membership.role == Role.VIEWER and link.role == Role.EDITOR:
        membership.role = Role.EDITOR
        membership.save(update_fields=["role"])
    ShareLink.objects.filter(pk=link.pk).update(uses=link.uses + 1, last_used_at=timezone.now())
    audit.record(
        action=AuditAction.SHARE_REDEEM,
        actor=user,
        case=link.case,
        target=link,
        request=request,
        details={"role": membership.role},
    )
    return membership


def set_locked(*, case: Case, locked: bool, actor: User, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        Case.objects.filter(pk=case.pk).update(locked=locked)
        case.locked = locked
        audit.record(
            action=AuditAction.CASE_LOCK if locked else AuditAction.CASE_UNLOCK,
            actor=actor,
            case=case,
            request=request,
        )


def record_view(*, case: Case, request: HttpRequest) -> None:
    audit.record(action=AuditAction.CASE_VIEW, request=request, case=case)


def record_failed_redemption(*, link: ShareLink | None, request: HttpRequest) -> None:
    """A share link that does not open (unknown, expired, revoked): on its case's log when it names one."""
    audit.record(
        action=AuditAction.SHARE_REDEEM_FAILED,
        request=request,
        case=link.case if link is not None else None,
        target=link,
    )
