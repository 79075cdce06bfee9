"""Websocket soak: N case sockets held open through daphne on the Redis channel layer while footage ingests
and searches run, counting reconnects, dropped progress events and the event-to-client latency.

    python bench/ws_soak_bench.py [--clients 20] [--minutes 10] [--frames 200] [--pause-s 20]

Needs PostgreSQL and Redis (as the tests do). It makes its own database (--db, dropped at the end), uses an
empty Redis DB (--redis-db, flushed at the end) and a temporary media root, and starts daphne and one Celery
worker as subprocesses, with the app's own settings (webapp.settings.local: what scripts/start.sh runs).

For --minutes, cycles run back to back: upload a clip (the first --frames frames of --video) and wait for its
ingest, start a search with a person cut from the footage and wait for it, then leave every socket idle for
--pause-s (the idle wait is what redis-py 8's default read timeout used to break). Meanwhile:
- each of --clients signed-in members holds a websocket on the case and, like the page, reconnects after a
  close; every close and every reconnect is counted;
- a reference subscriber joins the case's group on the channel layer directly: every job event published
  there should reach every socket. Dropped = reference events (those of the run's jobs) a socket never got;
- latency = time a socket received an event minus the event's updated_at (the worker's save; one clock);
- daphne's log is searched for tracebacks.
Exit status 1 when a socket closed, an event was dropped, or daphne logged a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from load_bench import (
    PASSWORD,
    User,
    admin_sql,
    first_frames,
    free_port,
    job_status,
    multipart,
    person_photo,
    start,
    stop,
    upload,
    wait_until,
)

REPO = Path(__file__).resolve().parents[1]
PREFIX = "sightline-soak"
FINISHED = ("done", "failed", "cancelled")


@dataclass
class Socket:
    """One client's record: opens, closes, and (event key, latency s) of every job event received."""

    opens: int = 0
    closes: int = 0
    events: dict[tuple[Any, ...], float] = field(default_factory=dict)


def event_key(event: dict[str, Any]) -> tuple[Any, ...]:
    fields = ("job", "status", "stage", "progress", "done", "updated_at")
    return tuple(event[name] for name in fields)


def latency_s(event: dict[str, Any], received: float) -> float:
    return received - datetime.fromisoformat(event["updated_at"]).timestamp()


async def hold(url: str, origin: str, cookie: str, record: Socket, done: asyncio.Event) -> None:
    """A case socket as the page keeps it: open, read every message, reopen one second after a close."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    headers = {"Origin": origin, "Cookie": f"sessionid={cookie}"}
    while not done.is_set():
        try:
            async with connect(url, additional_headers=headers, open_timeout=20) as ws:
                record.opens += 1
                reader = asyncio.ensure_future(_read(ws, record))
                finished = asyncio.ensure_future(done.wait())
                await asyncio.wait({reader, finished}, return_when=asyncio.FIRST_COMPLETED)
                if finished.done():
                    reader.cancel()
                    return
                finished.cancel()
        except (ConnectionClosed, OSError, TimeoutError):
            pass
        if not done.is_set():
            record.closes += 1
            await asyncio.sleep(1)


async def _read(ws: Any, record: Socket) -> None:
    from websockets.exceptions import ConnectionClosed

    try:
        async for raw in ws:
            received = time.time()
            message = json.loads(raw)
            if message.get("type") == "job":
                record.events[event_key(message)] = latency_s(message, received)
    except ConnectionClosed:
        return


async def reference(
    redis_url: str,
    case_id: int,
    seen: dict[tuple[Any, ...], dict[str, Any]],
    ready: asyncio.Event,
    done: asyncio.Event,
) -> None:
    """Every event the app publishes to the case's group, read straight from the channel layer."""
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[{"address": redis_url, "socket_timeout": None}], prefix=PREFIX)
    channel = await layer.new_channel()
    await layer.group_add(f"case.{case_id}", channel)
    ready.set()
    while not done.is_set():
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout=1)
        except TimeoutError:
            continue
        if message.get("type") == "job.event":
            seen[event_key(message["event"])] = message["event"]
    await layer.group_discard(f"case.{case_id}", channel)
    await layer.flush()


def run_sockets(
    port: int,
    case_id: int,
    cookies: list[str],
    redis_url: str,
    stop_flag: threading.Event,
    out: dict[str, Any],
) -> threading.Thread:
    """The sockets and the reference subscriber, on one event loop in a thread, until stop_flag is set."""
    ready = threading.Event()

    async def main() -> None:
        done = asyncio.Event()
        subscribed = asyncio.Event()
        records = [Socket() for _ in cookies]
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        out.update(records=records, seen=seen)
        origin = f"http://127.0.0.1:{port}"
        url = f"ws://127.0.0.1:{port}/ws/cases/{case_id}/"
        tasks = [asyncio.ensure_future(reference(redis_url, case_id, seen, subscribed, done))]
        await subscribed.wait()
        for cookie, record in zip(cookies, records, strict=True):
            tasks.append(asyncio.ensure_future(hold(url, origin, cookie, record, done)))
        while sum(r.opens for r in records) < len(records):
            await asyncio.sleep(0.1)
        ready.set()
        while not stop_flag.is_set():
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # the last events are still on their way
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    if not ready.wait(120):
        raise SystemExit("the sockets did not all open within 120 s")
    return thread


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--frames", type=int, default=200, help="frames of --video per ingest cycle")
    parser.add_argument("--pause-s", type=float, default=20, help="idle time after each cycle")
    shared = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
    parser.add_argument("--video", type=Path, default=shared / "data" / "pets09_s2l1" / "vtest.avi")
    parser.add_argument("--db", default="sightline_soak", help="database made for the run and dropped after")
    parser.add_argument("--redis-db", type=int, default=9, help="an empty Redis DB, flushed after the run")
    args = parser.parse_args()
    if not args.video.exists():
        raise SystemExit(f"{args.video} not found: pass --video")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    import redis

    base_db = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sightline")
    redis_server = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    redis_url = f"{redis_server}/{args.redis_db}"
    if redis.Redis.from_url(redis_url).dbsize():
        raise SystemExit(f"{redis_url} is not empty: pass another --redis-db")
    work = Path(tempfile.mkdtemp(prefix="sightline-soak-"))
    models = shared / "models"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings.local",
        "SIGHTLINE_MODE": "services",
        "DATABASE_URL": base_db.rsplit("/", 1)[0] + f"/{args.db}",
        "REDIS_URL": redis_url,
        "SIGHTLINE_CHANNEL_PREFIX": PREFIX,
        "SIGHTLINE_MEDIA_ROOT": str(work / "media"),
        "SIGHTLINE_DATA_DIR": str(work),
        "PYTHONUNBUFFERED": "1",
    }
    if "REID_MODELS_DIRS" not in env and models.is_dir():
        env["REID_MODELS_DIRS"] = str(models)
    admin_sql(base_db, f"DROP DATABASE IF EXISTS {args.db}")
    admin_sql(base_db, f"CREATE DATABASE {args.db}")
    processes: list[subprocess.Popen[bytes]] = []
    stop_flag = threading.Event()
    sockets: threading.Thread | None = None
    try:
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
        setup = f"""
import json
from django.contrib.auth.models import User
from django.test import Client
from webapp.cases import services
owner = User.objects.create_user("owner", password="{PASSWORD}")
case = services.create_case(owner=owner, title="Soak")
sessions = []
for i in range({args.clients}):
    u = owner if i == 0 else User.objects.create_user(f"user{{i}}", password="{PASSWORD}")
    if i:
        services.add_member(case=case, user=u, role="viewer", actor=owner)
    c = Client()
    c.force_login(u)
    sessions.append(c.cookies["sessionid"].value)
print(json.dumps({{"case": case.pk, "sessions": sessions}}))
"""
        made = json.loads(
            subprocess.run(
                [*manage, "shell", "-c", setup], cwd=REPO, env=env, check=True, capture_output=True, text=True
            ).stdout.strip().splitlines()[-1]
        )
        case_id, cookies = made["case"], made["sessions"]
        port = free_port()
        worker = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "ingest,search", "-c", "1"]
        worker += ["--without-gossip", "--without-mingle", "-n", "soak@bench"]
        processes.append(start(worker, env, work / "worker.log"))
        daphne = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        daphne += ["webapp.asgi:application"]
        processes.append(start(daphne, env, work / "daphne.log"))
        wait_until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 60, "daphne")
        owner = User(port, cookies[0], "soakbenchcsrf0123456789abcdefghi")
        clip = first_frames(args.video, args.frames, work / "clip.mp4")
        photo = person_photo(args.video, args.video.parent / "gt.txt")

        out: dict[str, Any] = {}
        sockets = run_sockets(port, case_id, cookies, redis_url, stop_flag, out)
        started = time.monotonic()
        until = started + 60 * args.minutes
        cycles: list[dict[str, Any]] = []
        job_ids: set[int] = set()
        while time.monotonic() < until:
            t0 = time.monotonic()
            ingest = upload(owner, case_id, f"cam{len(cycles) + 1}.mp4", clip)
            job_ids.add(ingest)
            wait_until(lambda j=ingest: job_status(owner, case_id, j) in FINISHED, 1800, "ingest")
            body, ctype = multipart(photo)
            search_url = f"/cases/{case_id}/search/"
            status, _, answer = owner.request("POST", search_url, body, {"Content-Type": ctype})
            search = int(json.loads(answer)["job"]["job"]) if status == 202 else None
            if search is not None:
                job_ids.add(search)
                wait_until(lambda j=search: job_status(owner, case_id, j) in FINISHED, 600, "search")
            cycles.append({
                "ingest": job_status(owner, case_id, ingest),
                "search": job_status(owner, case_id, search) if search else f"HTTP {status}",
                "busy_s": round(time.monotonic() - t0, 1),
            })  # fmt: skip
            time.sleep(max(0.0, min(args.pause_s, until - time.monotonic())))
        held_s = time.monotonic() - started
        stop_flag.set()
        sockets.join(timeout=60)

        records: list[Socket] = out["records"]
        reference_events = {k for k, e in out["seen"].items() if e["job"] in job_ids}
        progress = {k for k in reference_events if k[1] == "running"}
        dropped = sum(len(reference_events - r.events.keys()) for r in records)
        dropped_progress = sum(len(progress - r.events.keys()) for r in records)
        latencies = [lat for r in records for k, lat in r.events.items() if k in reference_events]
        tracebacks = (work / "daphne.log").read_text(errors="replace").count("Traceback")
        report = {
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores (may be shared)",
            "clients": args.clients,
            "held_s": round(held_s, 1),
            "video": f"{args.video.name}, first {args.frames} frames per ingest",
            "cycles": cycles,
            "reconnects": sum(r.opens - 1 for r in records),
            "closes": sum(r.closes for r in records),
            "events_published": len(reference_events),
            "progress_events_published": len(progress),
            "events_received": sum(len(r.events.keys() & reference_events) for r in records),
            "dropped_events": dropped,
            "dropped_progress_events": dropped_progress,
            "latency_ms": {
                "p50": round(1000 * statistics.median(latencies), 1) if latencies else None,
                "p95": round(1000 * percentile(latencies, 0.95), 1) if latencies else None,
                "max": round(1000 * max(latencies), 1) if latencies else None,
            },
            "daphne_tracebacks": tracebacks,
        }
        print(json.dumps(report, indent=1))
        if report["closes"] or dropped or tracebacks or not reference_events:
            raise SystemExit(1)
    finally:
        stop_flag.set()
        if sockets is not None:
            sockets.join(timeout=30)
        for process in reversed(processes):
            stop(process)
        redis.Redis.from_url(redis_url).flushdb()
        admin_sql(base_db, f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
