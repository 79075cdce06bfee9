"""The foundation end to end, on real processes: daphne serving the case websocket, Celery workers running
system-check jobs (database, storage, engine models, inference), and progress events crossing from the
worker process to a websocket client. Once on PostgreSQL + Redis, once in embedded mode (SQLite, SQLite
channel layer, filesystem broker) with no server at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from live_services import REPO, CaseSocket, daphne_service, models_dirs_env, session_cookie, worker_service

SELFCHECK_STAGES = ["database", "storage", "models", "inference"]

pytestmark = [pytest.mark.services, pytest.mark.slow]


def is_done(message: dict[str, Any]) -> bool:
    return message.get("type") == "job" and message.get("status") in {"done", "failed"}


def assert_selfcheck_events(events: list[dict[str, Any]], job_id: int) -> None:
    mine = [e for e in events if e.get("type") == "job" and e["job"] == job_id]
    assert mine, f"no event for job {job_id} in {events}"
    final = mine[-1]
    assert final["status"] == "done", final.get("error")
    assert final["progress"] == 1.0
    stages = [e["stage"] for e in mine if e["status"] == "running" and e["stage"]]
    assert [s for i, s in enumerate(stages) if s not in stages[:i]] == SELFCHECK_STAGES
    progress = [e["progress"] for e in mine]
    assert progress == sorted(progress), "progress went backwards"


@pytest.mark.django_db(transaction=True)
def test_worker_progress_reaches_the_case_websocket(
    live_stack: dict[str, Any], case: Any, client: Any, open_case_socket: Any
) -> None:
    from webapp.jobs.models import Job

    sock = open_case_socket(live_stack["url"], case.pk, session_cookie(case.owner))
    assert sock.receive()["type"] == "hello"  # joined: from here on nothing is missed

    client.force_login(case.owner)
    started = time.monotonic()
    response = client.post(f"/cases/{case.pk}/jobs/selfcheck/")
    assert response.status_code == 201
    job_id = response.json()["job"]

    events = sock.events_until(lambda m: is_done(m) and m["job"] == job_id, timeout=90)
    elapsed = time.monotonic() - started
    assert_selfcheck_events(events, job_id)

    job = Job.objects.get(pk=job_id)
    assert job.worker == "stack@testhost"
    assert set(job.timings) == set(SELFCHECK_STAGES)
    results = job.params["results"]
    assert results["embedding_dim"] > 0 and results["storage_bytes"] == 256 * 1024
    # The page's state endpoint agrees with the last event (a reload misses nothing).
    state = client.get(f"/cases/{case.pk}/jobs/").json()["jobs"]
    assert state[0]["job"] == job_id and state[0]["status"] == "done"
    print(f"selfcheck through worker + websocket: {elapsed:.2f} s, timings {job.timings}")


@pytest.mark.django_db(transaction=True)
def test_outsiders_and_anonymous_are_closed_like_a_missing_case(
    live_stack: dict[str, Any], case: Any, make_user: Any
) -> None:
    from websockets.exceptions import ConnectionClosed

    outsider_cookie = session_cookie(make_user())
    for case_id, cookie in ((case.pk, outsider_cookie), (case.pk, None), (case.pk + 999, outsider_cookie)):
        sock = CaseSocket(live_stack["url"], case_id, cookie)
        with pytest.raises(ConnectionClosed) as closed:
            sock.receive(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
        sock.close()


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_share_a_batch_of_jobs(
    live_stack: dict[str, Any], case: Any, services_log_dir: Path
) -> None:
    from webapp.jobs import services
    from webapp.jobs.models import Job, JobKind, JobStatus
    from webapp.jobs.tasks import selfcheck_task

    second = worker_service(services_log_dir, live_stack["env"], "second@testhost")
    try:
        second.wait_log(r"engine loaded", timeout=60)
        ids = [
            services.create_and_queue(case=case, kind=JobKind.SELFCHECK, task=selfcheck_task).pk
            for _ in range(8)
        ]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not Job.objects.filter(pk__in=ids).exclude(status=JobStatus.DONE).exists():
                break
            failed = Job.objects.filter(pk__in=ids, status=JobStatus.FAILED).first()
            assert failed is None, failed.error if failed else ""
            time.sleep(0.2)
        jobs = list(Job.objects.filter(pk__in=ids))
        assert all(job.status == JobStatus.DONE for job in jobs), [(j.pk, j.status) for j in jobs]
        assert all(job.attempts == 1 for job in jobs), "a job ran twice"
        by_worker = {w: sum(1 for j in jobs if j.worker == w) for w in {j.worker for j in jobs}}
        assert set(by_worker) == {"stack@testhost", "second@testhost"}, by_worker
        print(f"8 jobs shared by two workers: {by_worker}")
    finally:
        second.stop()


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


SETUP_EMBEDDED = """
from django.contrib.auth import get_user_model
from django.test import Client
from webapp.cases import services
user = get_user_model().objects.create_user(username="emma", password="a-long-test-password")
case = services.create_case(owner=user, title="Embedded")
client = Client()
client.force_login(user)
import json
print(json.dumps({"case": case.pk, "cookie": client.cookies["sessionid"].value}))
"""

QUEUE_SELFCHECK = """
from webapp.cases.models import Case
from webapp.jobs import services
from webapp.jobs.models import JobKind
from webapp.jobs.tasks import selfcheck_task
case = Case.objects.get(pk={case})
print(services.create_and_queue(case=case, kind=JobKind.SELFCHECK, task=selfcheck_task).pk)
"""


def test_embedded_mode_runs_a_job_through_a_separate_worker(tmp_path: Path, open_case_socket: Any) -> None:
    """No PostgreSQL, no Redis: SQLite + channels-lite + Celery's filesystem transport, all in tmp_path."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings.test",
        "SIGHTLINE_MODE": "embedded",
        "SIGHTLINE_DATA_DIR": str(tmp_path / "data"),
        "SIGHTLINE_MEDIA_ROOT": str(tmp_path / "media"),
        "SIGHTLINE_ENGINE_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
        **models_dirs_env(),
    }
    for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    manage(env, "migrate", "--no-input", "-v", "0")
    setup = json.loads(manage(env, "shell", "-c", SETUP_EMBEDDED).strip().splitlines()[-1])

    worker = worker_service(tmp_path, env, "embedded@testhost", embedded=True)
    web = daphne_service(tmp_path, env)
    try:
        url = f"http://127.0.0.1:{web.port}"  # type: ignore[attr-defined]
        sock = open_case_socket(url, setup["case"], setup["cookie"])
        assert sock.receive()["type"] == "hello"
        started = time.monotonic()
        job_id = int(
            manage(env, "shell", "-c", QUEUE_SELFCHECK.format(case=setup["case"])).strip().splitlines()[-1]
        )
        events = sock.events_until(lambda m: is_done(m) and m["job"] == job_id, timeout=90)
        assert_selfcheck_events(events, job_id)
        print(f"embedded selfcheck through worker + websocket: {time.monotonic() - started:.2f} s")
        assert "embedded@testhost" in worker.log(tail=100_000)
        assert (tmp_path / "data" / "sightline.sqlite3").exists()
    finally:
        web.stop()
        worker.stop()
