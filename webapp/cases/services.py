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
from webapp.cases.models import Case, Membership, Role, ShareLink

SHARE_LINK_MAX_DAYS = 90


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
    audit.record(action="case.create", actor=owner, case=case, target=case, request=request)
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
    audit.record(action="case.update", actor=actor, case=case, target=case, request=request)
    return case


def delete_case(*, case: Case, actor: User, request: HttpRequest | None = None) -> None:
    """Delete rows, then the case's folder (footage, renditions, crops, index, exports)."""
    folder = case_media_dir(case.pk)
    with transaction.atomic():
        audit.record(action="case.delete", actor=actor, case=case, target=case, request=request)
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
        action="member.add" if created else "member.role",
        actor=actor,
        case=case,
        target=membership,
        request=request,
        details={"user": user.get_username(), "role": role},
    )
    return membership


@transaction.atomic
def remove_member(*, case: Case, user: User, actor: User, request: HttpRequest | None = None) -> None:
    """Remove a member (or let a member leave). The owner cannot leave: transfer ownership first."""
    membership = Membership.objects.select_for_update().get(case=case, user=user)
    if membership.role == Role.OWNER:
        raise ValidationError("The owner cannot leave the case; transfer ownership first.")
    membership.delete()
    audit.record(
        action="member.leave" if user.pk == actor.pk else "member.remove",
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
        action="case.transfer",
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
            action="share.create",
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
        audit.record(action="share.revoke", actor=actor, case=link.case, target=link, request=request)
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
        audit.record(action="share.redeem_failed", actor=user, request=request)
        raise ShareLinkInvalid("This link is not valid any more. Ask the case owner for a new one.")
    membership, created = Membership.objects.get_or_create(
        case=link.case, user=user, defaults={"role": link.role, "added_by": link.created_by}
    )
    if not created and membership.role == Role.VIEWER and link.role == Role.EDITOR:
        membership.role = Role.EDITOR
        membership.save(update_fields=["role"])
    ShareLink.objects.filter(pk=link.pk).update(uses=link.uses + 1, last_used_at=timezone.now())
    audit.record(
        action="share.redeem",
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
        audit.record(action="case.lock" if locked else "case.unlock", actor=actor, case=case, request=request)
