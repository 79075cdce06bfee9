"""{% search_panel %}: the search panel of the case page, with the viewer's rights decided by the one
permission function (the case page's view does not need to know what the panel needs)."""

from __future__ import annotations

from typing import Any

from django import template

from webapp.cases.permissions import Capability, can

register = template.Library()


@register.inclusion_tag("search/_panel_body.html", takes_context=True)
def search_panel(context: template.Context) -> dict[str, Any]:
    case = context["case"]
    user = context["request"].user
    return {
        "case": case,
        "can_search": can(user, case, Capability.SEARCH),
        "can_review": can(user, case, Capability.REVIEW),
        "can_export": can(user, case, Capability.EXPORT),
    }
