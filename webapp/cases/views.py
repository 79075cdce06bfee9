"""Thin views: authorize (cases.permissions), call a selector or service, render."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.cases import selectors, services
from webapp.cases.forms import CaseForm, InviteForm, RoleForm, ShareLinkForm, TransferForm
from webapp.cases.models import Membership, ShareLink
from webapp.cases.permissions import Capability, authorize


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    return render(request, "cases/case_list.html", {"cases": selectors.cases_for(user=request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def case_create(request: HttpRequest) -> HttpResponse:
    form = CaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            case = services.create_case(
                owner=request.user,  # type: ignore[arg-type]
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Case created. Add footage to start.")
            return redirect("cases:detail", case_id=case.pk)
    return render(request, "cases/case_form.html", {"form": form})


@login_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    access = selectors.case_for(user=request.user, case_id=case_id)
    services.record_view(case=access.case, request=request)
    context = {
        "case": access.case,
        "role": access.role,
        "can_upload": access.allows(Capability.UPLOAD),
        "can_edit": access.allows(Capability.EDIT),
        "can_share": access.allows(Capability.SHARE),
        "can_manage": access.allows(Capability.MANAGE),
        "members": selectors.members(user=request.user, case_id=case_id),
    }
    if access.allows(Capability.SHARE):
        context["links"] = selectors.share_links(user=request.user, case_id=case_id)
        context["invite_form"] = InviteForm()
        context["link_form"] = ShareLinkForm()
    if access.allows(Capability.MANAGE):
        context["audit_events"] = selectors.audit_events(user=request.user, case_id=case_id, limit=20)
    return render(request, "cases/case_detail.html", context)


def _back(case_id: int) -> HttpResponse:
    return redirect(reverse("cases:detail", args=[case_id]) + "#sharing")


def _actor(request: HttpRequest) -> User:
    """The signed-in user (every view below is behind login_required)."""
    return cast(User, request.user)


def _error(request: HttpRequest, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


# --- sharing (owner) ----------------------------------------------------------------------------------------


@login_required
@require_POST
def invite_member(request: HttpRequest, case_id: int) -> HttpResponse:
    access = authorize(request.user, case_id, Capability.SHARE)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a username or email and a role.")
        return _back(case_id)
    try:
        membership = services.invite_member(
            case=access.case,
            identifier=form.cleaned_data["identifier"],
            role=form.cleaned_data["role"],
            actor=_actor(request),
            request=request,
        )
    except ValidationError as exc:
        _error(request, exc)
    else:
        messages.success(request, f"{membership.user.get_username()} is now {membership.role} of this case.")
    return _back(case_id)


def _membership(request: HttpRequest, case_id: int, user_id: int, capability: Capability) -> Membership:
    access = authorize(request.user, case_id, capability)
    return get_object_or_404(Membership.objects.select_related("user"), case=access.case, user_id=user_id)


@login_required
@require_POST
def change_role(request: HttpRequest, case_id: int, user_id: int) -> HttpResponse:
    membership = _membership(request, case_id, user_id, Capability.SHARE)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose viewer or editor.")
        return _back(case_id)
    try:
        services.add_member(
            case=membership.case,
            user=membership.user,
            role=form.cleaned_data["role"],
            actor=_actor(request),
            request=request,
        )
    except ValidationError as exc:
        _error(request, exc)
    return _back(case_id)


@login_required
@require_POST
def remove_member(request: HttpRequest, case_id: int, user_id: int) -> HttpResponse:
    membership = _membership(request, case_id, user_id, Capability.SHARE)
    try:
        services.remove_member(
            case=membership.case, user=membership.user, actor=_actor(request), request=request
        )
    except ValidationError as exc:
        _error(request, exc)
    return _back(case_id)


@login_required
@require_POST
def leave_case(request: HttpRequest, case_id: int) -> HttpResponse:
    access = authorize(request.user, case_id, Capability.VIEW)
    try:
        services.remove_member(case=access.case, user=_actor(request), actor=_actor(request), request=request)
    except ValidationError as exc:
        _error(request, exc)
        return _back(case_id)
    messages.success(request, f"You left “{access.case.title}”.")
    return redirect("cases:list")


@login_required
@require_POST
def transfer_ownership(request: HttpRequest, case_id: int) -> HttpResponse:
    access = authorize(request.user, case_id, Capability.MANAGE)
    form = TransferForm(request.POST)
    membership = (
        Membership.objects.select_related("user")
        .filter(case=access.case, user_id=form.cleaned_data["user_id"])
        .first()
        if form.is_valid()
        else None
    )
    if membership is None:
        messages.error(request, "Choose a member of the case as the new owner.")
        return _back(case_id)
    services.transfer_ownership(
        case=access.case, new_owner=membership.user, actor=_actor(request), request=request
    )
    messages.success(request, f"{membership.user.get_username()} now owns this case; you are an editor.")
    return _back(case_id)


@login_required
@require_POST
@never_cache
def create_share_link(request: HttpRequest, case_id: int) -> HttpResponse:
    """The token is in this one response only (never stored, never cached); reloading makes no new link."""
    access = authorize(request.user, case_id, Capability.SHARE)
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role and an expiry for the link.")
        return _back(case_id)
    try:
        new = services.create_share_link(
            case=access.case,
            actor=_actor(request),
            role=form.cleaned_data["role"],
            expires_in=timedelta(days=form.cleaned_data["days"]),
            label=form.cleaned_data["label"],
            request=request,
        )
    except ValidationError as exc:
        _error(request, exc)
        return _back(case_id)
    url = request.build_absolute_uri(reverse("cases:redeem", args=[new.token]))
    return render(request, "cases/link_created.html", {"case": access.case, "link": new.link, "url": url})


@login_required
@require_POST
def revoke_share_link(request: HttpRequest, case_id: int, link_id: int) -> HttpResponse:
    access = authorize(request.user, case_id, Capability.SHARE)
    link = get_object_or_404(ShareLink, pk=link_id, case=access.case)
    services.revoke_share_link(link=link, actor=_actor(request), request=request)
    messages.success(request, f"Link {link.token_prefix}… revoked.")
    return _back(case_id)


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def redeem_share_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (a link opened by accident, or fetched by a mail scanner, joins nobody); POST joins.
    An anonymous visitor is sent to log in first and comes back here."""
    link = selectors.active_share_link(token=token)
    if link is None:
        named = selectors.share_link_named(token=token)
        services.record_failed_redemption(link=named, request=request)
        return render(request, "cases/share_invalid.html", status=404)
    if request.method == "GET":
        return render(request, "cases/share_join.html", {"link": link})
    try:
        membership = services.redeem_share_link(token=token, user=_actor(request), request=request)
    except services.ShareLinkInvalid:
        return render(request, "cases/share_invalid.html", status=404)
    messages.success(request, f"You now have access to “{membership.case.title}” as {membership.role}.")
    return redirect("cases:detail", case_id=membership.case_id)


# --- the case itself (owner) --------------------------------------------------------------------------------


@login_required
@require_POST
def delete_case(request: HttpRequest, case_id: int) -> HttpResponse:
    access = authorize(request.user, case_id, Capability.MANAGE)
    if request.POST.get("confirm", "").strip() != access.case.title:
        messages.error(request, "Type the case title exactly to delete it.")
        return _back(case_id)
    if access.case.locked:
        messages.error(request, "The case is locked as evidence: unlock it first.")
        return _back(case_id)
    services.delete_case(case=access.case, actor=_actor(request), request=request)
    messages.success(request, f"“{access.case.title}” and all its footage were deleted.")
    return redirect("cases:list")


@login_required
@require_POST
def lock_case(request: HttpRequest, case_id: int) -> HttpResponse:
    access = authorize(request.user, case_id, Capability.MANAGE)
    services.set_locked(
        case=access.case, locked=request.POST.get("locked") == "1", actor=_actor(request), request=request
    )
    return _back(case_id)


@login_required
@require_GET
def case_audit(request: HttpRequest, case_id: int) -> HttpResponse:
    access = authorize(request.user, case_id, Capability.MANAGE)
    events = selectors.audit_events(user=request.user, case_id=case_id, limit=1000)
    return render(request, "cases/case_audit.html", {"case": access.case, "events": events})
