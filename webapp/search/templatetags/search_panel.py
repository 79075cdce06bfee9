"""{% search_panel %}: the search panel of the case page, with the viewer's rights decided by the one
permission function (the case page's view does not need to know what the panel needs)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import template
from django.conf import settings

from webapp.cases.permissions import Capability, can

register = template.Library()

MODEL_WORDS = {
    "trained": "trained person re-identification",
    "appearance": 'appearance similarity only (clothing colour and shape; never "the same person")',
}


@lru_cache(maxsize=1)
def models_in_use() -> dict[str, Any]:
    """The pack the workers load (the same settings, read here without loading any model), in words."""
    from reid_core.models import ModelError, choose_pack

    try:
        pack = choose_pack(settings.SIGHTLINE_MODEL_PACK, list(settings.REID_MODELS_DIRS) or None)
    except ModelError as exc:
        return {"ok": False, "text": f"No usable model pack: {exc}"}
    base = pack.name.partition("+")[0]
    return {
        "ok": True,
        "pack": pack.name,
        "appearance_only": pack.appearance_only,
        "what": MODEL_WORDS.get(base, pack.name),
        "detector": pack.detector.spec.name,
        "embedder": pack.embedder.spec.name,
        "why": pack.reason,
    }


@register.inclusion_tag("search/_panel_body.html", takes_context=True)
def search_panel(context: template.Context) -> dict[str, Any]:
    case = context["case"]
    user = context["request"].user
    return {
        "case": case,
        "can_search": can(user, case, Capability.SEARCH),
        "can_review": can(user, case, Capability.REVIEW),
        "can_export": can(user, case, Capability.EXPORT),
        "models": models_in_use(),
    }
