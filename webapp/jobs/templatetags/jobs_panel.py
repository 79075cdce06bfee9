"""{% case_jobs case.pk as jobs %}: the case page's activity list, read here so the case page's view (cases,
below jobs) does not import the jobs app."""

from __future__ import annotations

from typing import Any

from django import template

from webapp.jobs import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def case_jobs(context: template.Context, case_id: int) -> list[dict[str, Any]]:
    return selectors.job_events_for_case(user=context["request"].user, case_id=case_id)
