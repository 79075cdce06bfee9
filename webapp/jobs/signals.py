"""Receivers of the jobs app.

Live sockets follow access changes, whichever way they happen (views, services, the admin, cascades): model
signals rather than calls in each service, since a membership also disappears when its case or its user is
deleted (cascades) or when an operator edits it in the admin, and an account is deactivated from the admin.
A case being deleted stops its jobs (cases sends case_deleting; it does not import the jobs app).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from webapp.cases.models import Case, Membership
from webapp.cases.signals import case_deleting
from webapp.jobs.models import Job, JobStatus
from webapp.jobs.services import publish_access_change, request_cancel


@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
def _membership_changed(sender: Any, instance: Membership, **_: Any) -> None:
    publish_access_change(user_id=instance.user_id, case_id=instance.case_id)


@receiver(post_save, sender=get_user_model())
def _account_changed(
    sender: Any, instance: Any, created: bool, update_fields: frozenset[str] | None = None, **_: Any
) -> None:
    # Deactivated, or a new password (which ends the other sessions): every socket of the user checks again.
    # A login only stamps last_login.
    if not created and update_fields != frozenset({"last_login"}):
        publish_access_change(user_id=instance.pk)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest, user: Any, **_: Any) -> None:
    if user is not None and request.session.session_key:
        publish_access_change(user_id=user.pk, session_key=request.session.session_key)


@receiver(case_deleting)
def _case_deleting(sender: Any, case: Case, actor: User | AnonymousUser | None, **_: Any) -> None:
    # Running jobs are asked to stop before the case's rows go; one that writes later finds them gone.
    for job_id in Job.objects.filter(case=case, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).values_list(
        "pk", flat=True
    ):
        request_cancel(job_id=job_id, actor=actor)
