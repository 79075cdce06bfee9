"""Thin views: authorize (cases.permissions), call a selector or service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from webapp.audit import services as audit
from webapp.cases import selectors, services
from webapp.cases.forms import CaseForm
from webapp.cases.permissions import Capability
from webapp.jobs import selectors as job_selectors


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
    audit.record(action="case.view", request=request, case=access.case)
    context = {
        "case": access.case,
        "role": access.role,
        "can_upload": access.allows(Capability.UPLOAD),
        "can_edit": access.allows(Capability.EDIT),
        "can_share": access.allows(Capability.SHARE),
        "members": selectors.members(user=request.user, case_id=case_id),
        "jobs": job_selectors.job_events_for_case(user=request.user, case_id=case_id),
    }
    return render(request, "cases/case_detail.html", context)


@login_required
def redeem_share_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        membership = services.redeem_share_link(token=token, user=request.user, request=request)  # type: ignore[arg-type]
    except services.ShareLinkInvalid as exc:
        return render(request, "cases/share_invalid.html", {"message": str(exc)}, status=404)
    messages.success(request, f"You now have access to “{membership.case.title}” as {membership.role}.")
    return redirect("cases:detail", case_id=membership.case_id)
