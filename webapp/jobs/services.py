"""Job lifecycle: create and queue, run (start, report progress, finish, fail, cancel).

Every change goes through _save(): the row is updated first, then the event is sent to the case's channel
group after the transaction commits. The row is the truth; the websocket only brings changes sooner, so a
page that reconnects reloads rows and misses nothing. (Slightly over the usual module size: the Reporter
and run() share the row-then-event rule with the helpers above, and splitting them would copy it.)
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from channels.layers import get_channel_layer
from django.contrib.auth.models import AnonymousUser, User
from django.db import InterfaceError, OperationalError, connections, transaction
from django.utils import timezone

from webapp.cases.models import Case
from webapp.jobs.events import ACCESS_TYPE, EVENT_TYPE, case_group, job_event, user_group

__all__ = [
    "JobCancelled",
    "JobError",
    "Reporter",
    "create_and_queue",
    "job_event",
    "publish_job_event",
    "run",
]
from webapp.jobs.models import FINISHED_STATUSES, Job, JobStatus

logger = logging.getLogger(__name__)


class JobError(Exception):
    """A failure whose message a user can act on (shown on the page as is)."""


class JobCancelled(Exception):
    """Raised inside work when the job was cancelled."""


class QueueableTask(Protocol):
    name: str

    def apply_async(self, *, args: Sequence[Any], task_id: str) -> Any: ...


# --- what a job's kind adds to cancel and retry -------------------------------------------------------------
# Cancel and retry are one path for every kind (request_cancel, retry): whichever page, endpoint or admin
# action asks. A kind whose job owns other rows registers what to do with them (the ingest job's video:
# webapp/footage/job_hooks.py); each hook runs in the transaction that changes the job.
KindHook = Callable[[Job], None]
_ON_CANCELLED: dict[str, KindHook] = {}
_ON_RETRY: dict[str, KindHook] = {}


def register_kind(kind: str, *, on_cancelled: KindHook, on_retry: KindHook) -> None:
    """``on_cancelled``: the job was cancelled before a worker ran it (a running job's work sees the cancel
    itself). ``on_retry``: the job is about to be queued again."""
    _ON_CANCELLED[kind] = on_cancelled
    _ON_RETRY[kind] = on_retry


# --- publishing ---------------------------------------------------------------------------------------------


def publish(event: dict[str, Any]) -> None:
    """Send an event to the case's group. Best effort: a lost message is recovered by the page's reload."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(case_group(event["case"]), {"type": EVENT_TYPE, "event": event})
    except Exception:
        logger.warning("could not publish job %s event", event.get("job"), exc_info=True)


def publish_access_change(
    *, user_id: int, case_id: int | None = None, session_key: str | None = None
) -> None:
    """Tell the user's open case sockets, once the transaction commits, that their access may have changed:
    for one case (``case_id``), for every case (account changes), or that one session ended
    (``session_key``: a logout), which closes that session's sockets without asking anything."""
    message = {"type": ACCESS_TYPE, "case": case_id, "session": session_key}

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(user_group(user_id), message)
        except Exception:
            # The socket's own periodic check (SIGHTLINE_SOCKET_RECHECK_S) still closes it.
            logger.warning("could not tell user %s's sockets about an access change", user_id, exc_info=True)

    transaction.on_commit(send)


def publish_job_event(job: Job) -> None:
    """Publish the job's current state (as saved by the caller) once the transaction commits."""
    event = job_event(job)
    transaction.on_commit(lambda: publish(event))


def _save(job: Job, fields: Sequence[str]) -> Job:
    job.save(update_fields=[*fields, "updated_at"])
    publish_job_event(job)
    return job


# A job's last save must land even when the database restarted under it: otherwise the row stays "running"
# although no worker runs it. Reconnect and try again for about a minute.
_DATABASE_LOST = (OperationalError, InterfaceError)
FINAL_SAVE_TRIES = 15


def _save_final(job: Job, fields: Sequence[str]) -> Job:
    for attempt in range(FINAL_SAVE_TRIES):
        try:
            return _save(job, fields)
        except _DATABASE_LOST:
            if attempt == FINAL_SAVE_TRIES - 1:
                raise
            logger.warning("job %s: database unreachable for the final save, retrying", job.pk)
            connections.close_all()  # the broken connection goes; the next query opens a new one
            time.sleep(min(1.0 + attempt, 5.0))
    raise AssertionError("unreachable")


# --- creating -----------------------------------------------------------------------------------------------


def create_and_queue(
    *,
    case: Case,
    kind: str,
    task: QueueableTask,
    created_by: User | AnonymousUser | None = None,
    video_id: int | None = None,
    query_id: int | None = None,
    params: dict[str, Any] | None = None,
) -> Job:
    """Create a queued job and send its task once the row is committed (the worker must find it)."""
    user = created_by if created_by is not None and created_by.is_authenticated else None
    job = Job.objects.create(
        case=case,
        kind=kind,
        created_by=user,
        video_id=video_id,
        query_id=query_id,
        params={**(params or {}), "task": task.name},  # the task name lets retry() send it again
        celery_task_id=str(uuid.uuid4()),
    )
    event = job_event(job)
    task_id = job.celery_task_id

    def send() -> None:
        task.apply_async(args=[job.pk], task_id=task_id)
        publish(event)

    transaction.on_commit(send)
    return job


def retry(*, job_id: int) -> Job:
    """Run a failed or cancelled job again (same row, new task message)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise JobError("Only failed or cancelled jobs can be retried.")
        job.status, job.stage, job.progress, job.done, job.total = JobStatus.QUEUED, "", 0.0, 0, 0
        job.fps = job.eta_s = None
        job.error, job.cancel_requested, job.finished_at = "", False, None
        job.celery_task_id = str(uuid.uuid4())
        task_id = job.celery_task_id
        reset = ["status", "stage", "progress", "done", "total", "fps", "eta_s", "error", "finished_at"]
        _save(job, [*reset, "cancel_requested", "celery_task_id"])
        if job.kind in _ON_RETRY:
            _ON_RETRY[job.kind](job)
        task_name = str(job.params.get("task", ""))
        transaction.on_commit(lambda: current_app.send_task(task_name, args=[job.pk], task_id=task_id))
    return job


# --- state changes ------------------------------------------------------------------------------------------


def request_cancel(*, job_id: int, actor: User | AnonymousUser | None = None) -> bool:
    """Queued jobs are cancelled at once; running ones stop at their next progress report."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.status in FINISHED_STATUSES:
            return False
        job.cancel_requested = True
        fields = ["cancel_requested"]
        if job.status == JobStatus.QUEUED:
            job.status, job.finished_at = JobStatus.CANCELLED, timezone.now()
            fields += ["status", "finished_at"]
        _save(job, fields)
        if job.status == JobStatus.CANCELLED and job.kind in _ON_CANCELLED:
            _ON_CANCELLED[job.kind](job)
    return True


def fail(*, job_id: int, error: str) -> Job:
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        job.status, job.error, job.finished_at, job.eta_s = JobStatus.FAILED, error, timezone.now(), None
        return _save(job, ["status", "error", "finished_at", "eta_s"])


class Reporter:
    """Progress of one running job: stages with weights, throttled row updates, cancellation checks.

    Usable directly as the reid_core progress callback (it reads stage, done, total, fps and eta_s) and
    should_stop as its stop callback.
    """

    def __init__(
        self,
        job: Job,
        *,
        weights: dict[str, float] | None = None,
        min_interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job = job
        self.weights = weights or {}
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._last_publish = -1e9
        self._last_cancel_check = -1e9
        self._stage_started = clock()
        self._finished_weight = 0.0
        self.cancelled = False

    # stage boundaries are always published; progress inside a stage at most every min_interval_s
    def stage(self, name: str, *, total: int = 0) -> None:
        job = self.job
        now = self._clock()
        if job.stage:
            job.timings = {**job.timings, job.stage: round(now - self._stage_started, 3)}
            self._finished_weight += self.weights.get(job.stage, 0.0)
        self._stage_started = now
        job.stage, job.done, job.total, job.fps, job.eta_s = name, 0, total, None, None
        job.progress = self._overall(0, total)
        self._publish(["stage", "done", "total", "fps", "eta_s", "progress", "timings"])

    def progress(
        self, *, done: int, total: int | None = None, fps: float | None = None, eta_s: float | None = None
    ) -> None:
        job = self.job
        job.done = max(0, done)
        if total is not None:
            job.total = max(0, total)
        job.fps, job.eta_s = fps, eta_s
        job.progress = self._overall(job.done, job.total)
        now = self._clock()
        if now - self._last_publish >= self.min_interval_s or (job.total and job.done >= job.total):
            self._publish(["done", "total", "fps", "eta_s", "progress"])
        self.raise_if_cancelled()

    def __call__(self, update: Any) -> None:
        """reid_core progress callback: an object with stage, done, total, fps, eta_s."""
        if update.stage != self.job.stage:
            self.stage(update.stage, total=update.total or 0)
        self.progress(done=update.done, total=update.total, fps=update.fps, eta_s=update.eta_s)

    def should_stop(self) -> bool:
        now = self._clock()
        if now - self._last_cancel_check >= 1.0:
            self._last_cancel_check = now
            self.cancelled = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
        return self.cancelled

    def raise_if_cancelled(self) -> None:
        if self.should_stop():
            raise JobCancelled

    def close_stage(self) -> None:
        if self.job.stage:
            self.job.timings = {
                **self.job.timings,
                self.job.stage: round(self._clock() - self._stage_started, 3),
            }

    def _overall(self, done: int, total: int) -> float:
        fraction = min(1.0, done / total) if total else 0.0
        if not self.weights:
            return fraction
        current = self.weights.get(self.job.stage, 0.0)
        return min(1.0, self._finished_weight + current * fraction)

    def _publish(self, fields: list[str]) -> None:
        self._last_publish = self._clock()
        _save(self.job, fields)


Work = Callable[[Job, Reporter], None]


def run(
    *,
    job_id: int,
    work: Work,
    worker: str = "",
    task_id: str = "",
    weights: dict[str, float] | None = None,
) -> Job | None:
    """Run a job's work with uniform bookkeeping; the one entry point every Celery task calls.

    A message redelivered after the job finished (late acks, a lost worker) does nothing. A job picked up
    again after its worker died restarts from the beginning: work must be idempotent.
    """
    job = Job.objects.select_related("case").filter(pk=job_id).first()
    if job is None:
        logger.info("job %s is gone (its case was deleted); nothing to do", job_id)
        return None
    if job.finished:
        return job
    if job.cancel_requested:
        job.status, job.finished_at = JobStatus.CANCELLED, timezone.now()
        return _save(job, ["status", "finished_at"])
    job.status, job.started_at, job.finished_at = JobStatus.RUNNING, timezone.now(), None
    job.attempts += 1
    job.worker, job.celery_task_id = worker[:200], task_id or job.celery_task_id
    job.stage, job.error, job.timings = "", "", {}
    started = ["status", "started_at", "finished_at", "attempts", "worker", "celery_task_id"]
    _save(job, [*started, "stage", "error", "timings"])
    reporter = Reporter(job, weights=weights)
    try:
        work(job, reporter)
    except Exception as exc:
        reporter.close_stage()
        job.finished_at, job.eta_s = timezone.now(), None
        if reporter.cancelled or isinstance(exc, JobCancelled):
            job.status = JobStatus.CANCELLED
        else:
            job.status = JobStatus.FAILED
            job.error = user_message(exc)
            if job.error.startswith("Unexpected error"):
                logger.exception("job %s (%s) failed", job.pk, job.kind)
        return _save_final(job, ["status", "error", "finished_at", "eta_s", "timings"])
    reporter.close_stage()
    job.status, job.progress, job.finished_at, job.eta_s = JobStatus.DONE, 1.0, timezone.now(), None
    return _save_final(job, ["status", "progress", "finished_at", "eta_s", "timings"])


def user_message(exc: Exception) -> str:
    """What the job's error says: the engine's and JobError's own words, else what kind of failure it was."""
    from reid_core.types import ReidError  # the engine's errors are written for users
    from webapp.engine import EngineLoadError

    if isinstance(exc, JobError | ReidError | EngineLoadError):
        return str(exc)
    if isinstance(exc, _DATABASE_LOST):
        return "The database restarted while this job ran. Retry the job; nothing it stored is kept twice."
    if isinstance(exc, SoftTimeLimitExceeded):
        return "The job ran past its time limit and was stopped. Try a shorter video or ask an operator."
    return f"Unexpected error ({type(exc).__name__}). An operator can find the details in the worker log."
