"""Ingestion through the web app against reid_core alone, and tus upload throughput over loopback.

    python bench/web_ingest_bench.py [--video PATH] [--upload-mb 256] [--runs 1]

Needs PostgreSQL and Redis (as the tests do). It creates its own database (sightline_bench, dropped at the
end), uses an empty Redis DB (or --redis-db) and a temporary media root, so it never touches the app's data.

1. reid_core alone: Engine.load + engine.ingest(video) in this process (the load is timed apart).
2. The web app: a finished upload becomes a Video (probe), an ingest Job is queued, a real Celery worker
   process (engine preloaded, as in production) runs probe -> rendition -> reid_core ingest -> rows, crops,
   index; timed from queueing to the job row saying done. Overhead ratio = web / reid_core (goal <= 1.15).
   The H.264 rendition (needed for browsers) is made in a thread beside the analysis; rendition_s is the
   time the job still waited for it after the analysis ("transcode" in the job's timings), 0 when none.
3. Upload: PATCH pieces of 8 MiB through daphne on 127.0.0.1 (the tus protocol the page uses), against the
   naive baseline of writing and hashing the same bytes straight to disk in one process.
Wall times vary by +-30% on a shared machine: run with --runs 3 and read the medians; CPU seconds (the
worker's process group against this process's own) hold up better and are reported beside them.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench_db import create_database, drop_database  # noqa: E402

BENCH_DB = "sightline_bench"
PIECE = 8 * 1024 * 1024


def shared_dir() -> Path:
    return Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))


def free_redis_db() -> int:
    """A Redis DB number nobody uses now (others run test suites on their own numbers at the same time)."""
    import random

    import redis

    server = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    candidates = list(range(1, 11))
    random.shuffle(candidates)
    for number in candidates:
        client = redis.Redis.from_url(f"{server}/{number}")
        if client.dbsize() == 0:
            return number
    raise RuntimeError("no empty Redis DB among 1..10: pass --redis-db")


def configure(media_root: Path, redis_db: int) -> dict[str, str]:
    """Environment for this process and its children: bench DB, its own Redis DB, temporary media."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sightline")
    env = {
        "DJANGO_SETTINGS_MODULE": "webapp.settings.test",
        "DATABASE_URL": base.rsplit("/", 1)[0] + f"/{BENCH_DB}",
        "SIGHTLINE_TEST_REDIS_DB": str(redis_db),
        "SIGHTLINE_MEDIA_ROOT": str(media_root),
        "PYTHONUNBUFFERED": "1",
    }
    models = shared_dir() / "models"
    if models.exists() and "REID_MODELS_DIRS" not in os.environ:
        env["REID_MODELS_DIRS"] = str(models)
    os.environ.update(env)
    return {**os.environ}


def start(args: list[str], env: dict[str, str], log: Path, ready: bytes) -> subprocess.Popen[bytes]:
    handle = open(log, "wb")  # noqa: SIM115 - the child owns it
    process = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while ready not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"{args[2]} did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in a process group (a worker and its pool)."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 (state) on
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def engine_alone(video: Path) -> tuple[float, float, float, int]:
    from django.conf import settings

    from reid_core.pipeline import Engine

    started = time.perf_counter()
    dirs = list(settings.REID_MODELS_DIRS) or None
    engine = Engine.load(
        pack=settings.SIGHTLINE_MODEL_PACK, dirs=dirs, threads=int(settings.SIGHTLINE_ENGINE_THREADS)
    )
    loaded = time.perf_counter() - started
    started, cpu = time.perf_counter(), own_cpu_seconds()
    result = engine.ingest(video, video="bench")
    return loaded, time.perf_counter() - started, own_cpu_seconds() - cpu, len(result.snapshots)


def through_web_app(
    video: Path, case: object, worker_pgid: int
) -> tuple[float, float, dict[str, float], int]:
    from webapp.footage import services
    from webapp.footage.models import Snapshot
    from webapp.jobs.models import Job

    store = services.upload_store()
    info = store.create(
        case_id=case.pk, user_id=case.owner_id, length=video.stat().st_size, metadata={"filename": video.name}
    )  # type: ignore[attr-defined]
    with open(video, "rb") as data:
        store.append(info.id, offset=0, chunks=iter(lambda: data.read(PIECE), b""))
    started, cpu = time.perf_counter(), group_cpu_seconds(worker_pgid) + own_cpu_seconds()
    record = services.create_video_from_upload(user=case.owner, case=case, upload_id=info.id)  # type: ignore[attr-defined]
    job = Job.objects.get(video=record)
    while True:
        job.refresh_from_db()
        if job.finished:
            break
        if time.perf_counter() - started > 1800:
            raise RuntimeError(f"job {job.pk} not finished after 30 min (status {job.status})")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    # The worker's CPU plus this process's (the request side: probe, polling), not PostgreSQL's or Redis's.
    cpu = group_cpu_seconds(worker_pgid) + own_cpu_seconds() - cpu
    if job.status != "done":
        raise RuntimeError(f"the ingest job ended {job.status}: {job.error}")
    return elapsed, cpu, dict(job.timings), Snapshot.objects.filter(track__video=record).count()


def login_cookies(user: object) -> tuple[str, str]:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import _get_new_csrf_string

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)  # type: ignore[attr-defined]
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()  # type: ignore[attr-defined]
    session.create()
    csrf = _get_new_csrf_string()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}; csrftoken={csrf}", csrf


def upload_over_loopback(port: int, case_id: int, cookie: str, csrf: str, data: bytes) -> float:
    headers = {"Cookie": cookie, "X-CSRFToken": csrf, "Tus-Resumable": "1.0.0"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", f"/cases/{case_id}/uploads/", headers={**headers, "Upload-Length": str(len(data))})
    answer = conn.getresponse()
    answer.read()
    if answer.status != 201:
        raise RuntimeError(f"creation answered {answer.status}")
    location = answer.getheader("Location") or ""
    started = time.perf_counter()
    offset = 0
    while offset < len(data):
        piece = data[offset : offset + PIECE]
        conn.request(
            "PATCH",
            location,
            body=piece,
            headers={
                **headers,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
        )
        answer = conn.getresponse()
        answer.read()
        if answer.status != 204:
            raise RuntimeError(f"PATCH answered {answer.status}")
        offset = int(answer.getheader("Upload-Offset") or 0)
    elapsed = time.perf_counter() - started
    conn.request("DELETE", location, headers=headers)
    conn.getresponse().read()
    return elapsed


def disk_baseline(folder: Path, data: bytes) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(folder / "baseline.bin", "wb") as out:
        for i in range(0, len(data), PIECE):
            piece = data[i : i + PIECE]
            out.write(piece)
            digest.update(piece)
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - started
    (folder / "baseline.bin").unlink()
    return elapsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--video", type=Path, default=shared_dir() / "data" / "pets09_s2l1" / "vtest.avi")
    parser.add_argument("--upload-mb", type=int, default=256)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--redis-db", type=int, default=0, help="Redis DB for the broker (default: a free one)"
    )
    args = parser.parse_args()

    # A TERM (timeout, Ctrl-C from a supervisor) still stops the worker and server and drops the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    media = Path(tempfile.mkdtemp(prefix="sightline-bench-"))
    env = configure(media, args.redis_db or free_redis_db())
    create_database(BENCH_DB)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from webapp.cases.models import Case, Membership, Role
    from webapp.celery import app

    call_command("migrate", verbosity=0)
    app.control.purge()
    user = User.objects.create_user("bench", password="bench-pw-1")
    case = Case.objects.create(title="Benchmark", owner=user)
    Membership.objects.create(case=case, user=user, role=Role.OWNER)
    command = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "ingest", "-c", "1"]
    command += ["-n", "bench@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO"]
    worker = start(
        command,
        env,
        media / "worker.log",
        b" ready.",
    )
    port = free_port()
    server = start(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "webapp.asgi:application"],
        env,
        media / "daphne.log",
        b"Listening on",
    )
    results: dict[str, object] = {}
    try:
        alone, web, rendition, loads, alone_cpu, web_cpu = [], [], [], [], [], []
        for run in range(args.runs):
            # Alternate the order so a change in the machine's load does not favour one side.
            order = ["engine", "web"] if run % 2 == 0 else ["web", "engine"]
            for side in order:
                if side == "engine":
                    loaded, seconds, cpu, snaps = engine_alone(args.video)
                    alone.append(seconds)
                    alone_cpu.append(cpu)
                    loads.append(loaded)
                    print(f"run {run + 1}: reid_core {seconds:.2f} s, CPU {cpu:.1f} s, {snaps} vectors")
                else:
                    seconds, cpu, timings, snaps = through_web_app(args.video, case, worker.pid)
                    web.append(seconds)
                    web_cpu.append(cpu)
                    rendition.append(timings.get("transcode", 0.0))
                    print(
                        f"run {run + 1}: web job {seconds:.2f} s, CPU {cpu:.1f} s, {snaps} vectors, {timings}"
                    )
        a, w, r = statistics.median(alone), statistics.median(web), statistics.median(rendition)
        results["ingest"] = {
            "video": args.video.name,
            "reid_core_s": round(a, 2),
            "web_job_s": round(w, 2),
            "overhead_ratio": round(w / a, 3),
            "rendition_s": round(r, 2),
            "overhead_ratio_without_rendition": round((w - r) / a, 3),
            "engine_load_s": round(statistics.median(loads), 2),
            # CPU seconds hold up better than wall time when other work shares the cores.
            "reid_core_cpu_s": round(statistics.median(alone_cpu), 1),
            "web_job_cpu_s": round(statistics.median(web_cpu), 1),
            "cpu_ratio": round(statistics.median(web_cpu) / statistics.median(alone_cpu), 3),
        }
        data = os.urandom(args.upload_mb * 1024 * 1024)
        cookie, csrf = login_cookies(user)
        up = [upload_over_loopback(port, case.pk, cookie, csrf, data) for _ in range(args.runs)]
        base = [disk_baseline(media, data) for _ in range(args.runs)]
        mb = len(data) / 1e6
        results["upload"] = {
            "megabytes": round(mb, 1),
            "tus_over_loopback_MBps": round(mb / statistics.median(up), 1),
            "disk_write_and_sha256_MBps": round(mb / statistics.median(base), 1),
            "ratio_to_baseline": round(statistics.median(base) / statistics.median(up), 3),
        }
    finally:
        stop(server)
        stop(worker)
        drop_database(BENCH_DB)
    results["machine"] = (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()} (shared)"
    )
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
