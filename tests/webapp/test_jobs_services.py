"""Job lifecycle services: progress bookkeeping, failures with user-facing messages, cancellation,
redelivery, and the events published to the case group."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from webapp.jobs import services
from webapp.jobs.events import case_group
from webapp.jobs.models import Job, JobKind, JobStatus


class FakeTask:
    name = "webapp.tests.fake"

    def __init__(self) -> None:
        self.sent: list[tuple[list[Any], str]] = []

    def apply_async(self, *, args: list[Any], task_id: str) -> None:
        self.sent.append((list(args), task_id))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def job(case: Any) -> Job:
    return Job.objects.create(case=case, kind=JobKind.SELFCHECK)


def test_create_and_queue_sends_the_task_after_commit_with_the_rows_task_id(
    case: Any, django_capture_on_commit_callbacks: Any
) -> None:
    task = FakeTask()
    with django_capture_on_commit_callbacks(execute=True):
        job = services.create_and_queue(case=case, kind=JobKind.SELFCHECK, task=task, created_by=case.owner)
        assert task.sent == []  # nothing leaves before the row is committed
    assert task.sent == [([job.pk], job.celery_task_id)]
    assert job.params["task"] == FakeTask.name
    assert job.status == JobStatus.QUEUED


def test_reporter_weights_stages_throttles_rows_and_times_stages(job: Job) -> None:
    clock = Clock()
    reporter = services.Reporter(job, weights={"a": 0.25, "b": 0.75}, min_interval_s=0.5, clock=clock)
    reporter.stage("a", total=4)
    clock.now += 1.0
    reporter.progress(done=2)
    assert Job.objects.get(pk=job.pk).progress == pytest.approx(0.125)
    clock.now += 0.1
    reporter.progress(done=3)  # within the interval: not written
    assert Job.objects.get(pk=job.pk).done == 2
    reporter.progress(done=4)  # stage complete: always written
    assert Job.objects.get(pk=job.pk).done == 4
    clock.now += 0.4
    reporter.stage("b", total=10)
    clock.now += 2.0
    reporter.progress(done=5, fps=12.5, eta_s=2.0)
    row = Job.objects.get(pk=job.pk)
    assert row.progress == pytest.approx(0.25 + 0.75 * 0.5)
    assert (row.stage, row.fps, row.eta_s) == ("b", 12.5, 2.0)
    assert row.timings == {"a": pytest.approx(1.5)}


def test_reporter_is_a_reid_core_progress_callback(job: Job) -> None:
    from reid_core.types import Progress

    reporter = services.Reporter(job, min_interval_s=0)
    reporter(Progress("analyse", 30, 120, 9.5, 9.0))
    row = Job.objects.get(pk=job.pk)
    assert (row.stage, row.done, row.total, row.fps, row.progress) == ("analyse", 30, 120, 9.5, 0.25)


def work_ok(job: Job, reporter: services.Reporter) -> None:
    reporter.stage("only", total=1)
    reporter.progress(done=1)


def test_run_marks_running_then_done_with_worker_attempts_and_timings(job: Job) -> None:
    done = services.run(job_id=job.pk, work=work_ok, worker="w1@host", task_id="t-1")
    assert done is not None
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.progress, row.worker, row.attempts) == (JobStatus.DONE, 1.0, "w1@host", 1)
    assert row.started_at is not None and row.finished_at is not None
    assert set(row.timings) == {"only"}


def test_run_turns_errors_into_messages_users_can_act_on(job: Job) -> None:
    def bad_input(job: Job, reporter: services.Reporter) -> None:
        raise services.JobError("This file is not a video. Upload an MP4, AVI or MKV file.")

    services.run(job_id=job.pk, work=bad_input)
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.error) == (
        JobStatus.FAILED,
        "This file is not a video. Upload an MP4, AVI or MKV file.",
    )

    def bug(job: Job, reporter: services.Reporter) -> None:
        raise KeyError("internal")

    services.retry(job_id=job.pk)
    services.run(job_id=job.pk, work=bug)
    row = Job.objects.get(pk=job.pk)
    assert row.status == JobStatus.FAILED
    assert row.error.startswith("Unexpected error (KeyError)")
    assert "internal" not in row.error  # internals stay in the worker log
    assert row.attempts == 2


def test_engine_errors_are_shown_as_they_are(job: Job) -> None:
    from reid_core.types import NoPersonError

    def no_person(job: Job, reporter: services.Reporter) -> None:
        raise NoPersonError("no person found in the query photo")

    services.run(job_id=job.pk, work=no_person)
    assert Job.objects.get(pk=job.pk).error == "no person found in the query photo"


def test_cancel_queued_at_once_and_running_at_the_next_report(case: Any) -> None:
    queued = Job.objects.create(case=case, kind=JobKind.SELFCHECK)
    assert services.request_cancel(job_id=queued.pk)
    assert Job.objects.get(pk=queued.pk).status == JobStatus.CANCELLED
    assert not services.request_cancel(job_id=queued.pk)  # finished: nothing to do

    running = Job.objects.create(case=case, kind=JobKind.SELFCHECK)

    def long_work(job: Job, reporter: services.Reporter) -> None:
        reporter.stage("loop", total=1000)
        for i in range(1000):
            if i == 3:
                services.request_cancel(job_id=job.pk)
                reporter._last_cancel_check = -1e9  # check now rather than within a second
            reporter.progress(done=i)

    services.run(job_id=running.pk, work=long_work)
    row = Job.objects.get(pk=running.pk)
    assert row.status == JobStatus.CANCELLED
    assert row.done < 10


def test_a_redelivered_message_for_a_finished_job_does_nothing(job: Job) -> None:
    services.run(job_id=job.pk, work=work_ok)
    calls: list[int] = []
    services.run(job_id=job.pk, work=lambda j, r: calls.append(j.pk))
    assert calls == []
    assert Job.objects.get(pk=job.pk).attempts == 1
    assert services.run(job_id=999_999, work=work_ok) is None  # a deleted case's job


def test_retry_only_failed_or_cancelled(job: Job) -> None:
    with pytest.raises(services.JobError):
        services.retry(job_id=job.pk)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_every_state_change_reaches_the_case_group(case: Any) -> None:
    """Through the real channel layer (Redis in services mode, SQLite in embedded mode)."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(case_group(case.pk), channel)
    job = Job.objects.create(case=case, kind=JobKind.SELFCHECK)
    services.run(job_id=job.pk, work=work_ok, worker="w@h")
    seen: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return dict(await asyncio.wait_for(layer.receive(channel), timeout=10))

    while not seen or seen[-1]["status"] != JobStatus.DONE:
        message = async_to_sync(receive)()
        assert message["type"] == "job.event"
        seen.append(message["event"])
    assert seen[0]["status"] == "running"
    assert {e["stage"] for e in seen} >= {"only"}
    assert seen[-1]["progress"] == 1.0
    assert set(seen[-1]) >= {
        "job",
        "kind",
        "status",
        "stage",
        "progress",
        "done",
        "total",
        "fps",
        "eta_s",
        "error",
    }
    async_to_sync(layer.group_discard)(case_group(case.pk), channel)


def test_selfcheck_reports_unloadable_models_in_words(job: Job, settings: Any, monkeypatch: Any) -> None:
    from webapp import engine
    from webapp.jobs import selfcheck

    monkeypatch.setattr(engine, "_engine", None)
    settings.SIGHTLINE_MODEL_PACK = "no-such-pack"
    services.run(job_id=job.pk, work=selfcheck.run_selfcheck, weights=selfcheck.WEIGHTS)
    row = Job.objects.get(pk=job.pk)
    assert row.status == JobStatus.FAILED
    assert row.stage == "models"  # database and storage passed first
    assert row.error.startswith("The analysis models could not be loaded (")
    assert "REID_MODELS_DIRS" in row.error
    assert set(row.timings) == {"database", "storage", "models"}
