"""The job event: one shape for the database row, the websocket message and the JSON API."""

from __future__ import annotations

from typing import Any

from webapp.jobs.models import Job

EVENT_TYPE = "job.event"  # channel-layer message type; the consumer's job_event() handles it
# Sent to a user's group when their access may have changed (membership, role, account, logout): the
# consumer's access_changed() checks again and closes the socket if the user may no longer see the case.
ACCESS_TYPE = "access.changed"


def case_group(case_id: int) -> str:
    return f"case.{case_id}"


def user_group(user_id: int) -> str:
    """Every open case socket of one user, whatever the case."""
    return f"user.{user_id}"


def job_event(job: Job) -> dict[str, Any]:
    return {
        "job": job.pk,
        "case": job.case_id,
        "kind": job.kind,
        "status": job.status,
        "stage": job.stage,
        "progress": round(job.progress, 4),
        "done": job.done,
        "total": job.total,
        "fps": None if job.fps is None else round(job.fps, 2),
        "eta_s": None if job.eta_s is None else round(job.eta_s, 1),
        "error": job.error or None,
        "video": job.video_id,
        "query": job.query_id,
        "updated_at": job.updated_at.isoformat() if job.updated_at else None,
    }
