"""Load on loopback: N signed-in users browsing and searching a case while two videos ingest.

    python bench/load_bench.py [--users 20] [--seconds 45] [--idle-seconds 15] [--video PATH]

Needs PostgreSQL and Redis (as the tests do). It makes its own database (sightline_load, dropped at the end),
an empty Redis DB and a temporary media root, and starts daphne and one Celery worker as subprocesses.

1. One video is ingested first, so the case has a search index.
2. Baseline: the users browse and search for --idle-seconds with nothing ingesting.
3. Load: two more uploads start ingesting and the same users go on for --seconds (bounded: each user waits
   0.2 s between rounds; one user in four starts one search per phase and follows its results).
Every response is recorded: error responses (5xx, and 4xx other than none expected) are counted and listed;
latency p50/p95/max per endpoint for both phases, with the ratio load/baseline. The machine may be shared:
say so with the numbers.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from io import BytesIO
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DB = "sightline_load"
# The PostgreSQL server may be shared: the run stops early rather than take more connections than this.
MAX_CONNECTIONS = 60
ABORT = threading.Event()
PASSWORD = "load-bench-password-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_redis_db(server: str) -> int:
    import redis

    for number in random.sample(range(1, 11), 10):
        if redis.Redis.from_url(f"{server}/{number}").dbsize() == 0:
            return number
    raise SystemExit("no empty Redis DB among 1..10")


def admin_sql(base_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(base_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def person_photo(video: Path, gt: Path | None) -> bytes:
    """A person cut from the footage's first frame (ground-truth box when present), as JPEG."""
    import av
    from PIL import Image

    with av.open(str(video)) as container:
        frame = next(container.decode(video=0)).to_image()
    box = (499, 158, 531, 234)
    if gt is not None and gt.exists():
        first = gt.read_text().splitlines()[0].split(",")
        x, y, w, h = (float(v) for v in first[2:6])
        box = (int(x), int(y), int(x + w), int(y + h))
    out = BytesIO()
    Image.Image.crop(frame, box).save(out, "JPEG")
    return out.getvalue()


def first_frames(video: Path, frames: int, out: Path) -> bytes:
    """The first frames of the video as H.264 (a shorter ingest for a bounded run)."""
    import av

    with av.open(str(video)) as source, av.open(str(out), "w") as target:
        stream = source.streams.video[0]
        encoder = target.add_stream("libx264", rate=stream.average_rate)
        encoder.width, encoder.height, encoder.pix_fmt = stream.width, stream.height, "yuv420p"
        for i, frame in enumerate(source.decode(video=0)):
            if i >= frames:
                break
            image = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            target.mux(encoder.encode(image))
        target.mux(encoder.encode())
    return out.read_bytes()


class User:
    def __init__(self, port: int, session: str, csrf: str) -> None:
        self.port, self.session, self.csrf = port, session, csrf

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        all_headers = {
            "Cookie": f"sessionid={self.session}; csrftoken={self.csrf}",
            "X-CSRFToken": self.csrf,
            **(headers or {}),
        }
        try:
            conn.request(method, path, body=body or None, headers=all_headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()


def multipart(photo: bytes) -> tuple[bytes, str]:
    boundary = "loadbench" + str(random.randint(0, 10**9))
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def upload(user: User, case_id: int, name: str, data: bytes) -> int:
    meta = "filename " + base64.b64encode(name.encode()).decode()
    tus = {"Tus-Resumable": "1.0.0"}
    status, headers, _ = user.request(
        "POST",
        f"/cases/{case_id}/uploads/",
        headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": meta},
    )
    assert status == 201, status
    location = headers["Location"]
    status, _, _ = user.request(
        "PATCH",
        location,
        data,
        {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert status == 204, status
    status, _, body = user.request("POST", location + "/complete")
    assert status == 201, body
    return int(json.loads(body)["video"]["job"]["job"])


def job_status(user: User, case_id: int, job_id: int) -> str:
    _, _, body = user.request("GET", f"/cases/{case_id}/jobs/")
    return next((j["status"] for j in json.loads(body)["jobs"] if j["job"] == job_id), "missing")


def browse(
    user: User, case_id: int, video_id: int, photo: bytes, until: float, log: list[Any], searcher: bool
) -> None:
    """One user: the case page, its JSON, the poster, a piece of the video; a searcher starts one search per
    phase and then follows its results (one worker serves searches and ingests: unbounded searches would
    queue the ingests behind them)."""
    turn = 0
    query_id: int | None = None
    while time.monotonic() < until and not ABORT.is_set():
        turn += 1
        steps: list[tuple[str, str, str, bytes, dict[str, str]]] = [
            ("case page", "GET", f"/cases/{case_id}/", b"", {}),
            ("jobs json", "GET", f"/cases/{case_id}/jobs/", b"", {}),
            ("videos json", "GET", f"/cases/{case_id}/videos/", b"", {}),
            ("poster", "GET", f"/cases/{case_id}/videos/{video_id}/poster", b"", {}),
            (
                "stream range",
                "GET",
                f"/cases/{case_id}/videos/{video_id}/stream",
                b"",
                {"Range": "bytes=0-262143"},
            ),
        ]
        if searcher and turn == 1:
            body, ctype = multipart(photo)
            steps.append(("search start", "POST", f"/cases/{case_id}/search/", body, {"Content-Type": ctype}))
        if query_id is not None:
            steps.append(("search results", "GET", f"/cases/{case_id}/search/queries/{query_id}/", b"", {}))
        for name, method, path, body, headers in steps:
            t0 = time.perf_counter()
            try:
                status, _, answer = user.request(method, path, body, headers)
            except OSError as exc:
                status, answer = 599, str(exc).encode()
            log.append((name, status, time.perf_counter() - t0, answer[:200] if status >= 400 else b""))
            if name == "search start" and status == 202:
                query_id = int(json.loads(answer)["query"]["id"])
        time.sleep(0.2)


def run_phase(users: list[User], case_id: int, video_id: int, photo: bytes, seconds: float) -> list[Any]:
    log: list[Any] = []
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=browse, args=(u, case_id, video_id, photo, until, log, i % 4 == 0), daemon=True
        )
        for i, u in enumerate(users)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    return log


def summary(log: list[Any]) -> dict[str, dict[str, float]]:
    by: dict[str, list[float]] = defaultdict(list)
    for name, _, seconds, _ in log:
        by[name].append(seconds)
        by["all"].append(seconds)
    out = {}
    for name, values in sorted(by.items()):
        values.sort()
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        out[name] = {
            "n": len(values),
            "p50_ms": 1000 * statistics.median(values),
            "p95_ms": 1000 * p95,
            "max_ms": 1000 * values[-1],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--idle-seconds", type=float, default=15)
    shared = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
    parser.add_argument("--video", type=Path, default=shared / "data" / "pets09_s2l1" / "vtest.avi")
    parser.add_argument("--frames", type=int, default=0, help="use only the first N frames (0: all)")
    args = parser.parse_args()
    if not args.video.exists():
        raise SystemExit(f"{args.video} not found: pass --video")
    # A timeout or Ctrl-C still stops the servers and drops the database (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    base_db = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sightline")
    redis_server = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    redis_db = free_redis_db(redis_server)
    work = Path(tempfile.mkdtemp(prefix="sightline-load-"))
    models = shared / "models"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings.dev",
        "DEBUG": "false",
        "DATABASE_URL": base_db.rsplit("/", 1)[0] + f"/{DB}",
        "REDIS_URL": f"{redis_server}/{redis_db}",
        "SIGHTLINE_CHANNEL_PREFIX": "sightline-load",
        "SIGHTLINE_MEDIA_ROOT": str(work / "media"),
        "SIGHTLINE_DATA_DIR": str(work),
        "SIGHTLINE_LOGIN_FAILURE_LIMIT": "1000",
        "PYTHONUNBUFFERED": "1",
    }
    if "REID_MODELS_DIRS" not in env and models.is_dir():
        env["REID_MODELS_DIRS"] = str(models)
    admin_sql(base_db, f"DROP DATABASE IF EXISTS {DB}")
    admin_sql(base_db, f"CREATE DATABASE {DB}")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
        setup = f"""
import json
from django.contrib.auth.models import User
from django.test import Client
from webapp.cases import services
owner = User.objects.create_user("owner", password="{PASSWORD}")
case = services.create_case(owner=owner, title="Load")
sessions = []
for i in range({args.users}):
    u = owner if i == 0 else User.objects.create_user(f"user{{i}}", password="{PASSWORD}")
    if i:
        services.add_member(case=case, user=u, role="editor" if i % 4 == 0 else "viewer", actor=owner)
    c = Client()
    c.force_login(u)
    sessions.append(c.cookies["sessionid"].value)
print(json.dumps({{"case": case.pk, "sessions": sessions}}))
"""
        out = subprocess.run(
            [*manage, "shell", "-c", setup], cwd=REPO, env=env, check=True, capture_output=True, text=True
        )
        made = json.loads(out.stdout.strip().splitlines()[-1])
        case_id = made["case"]
        port = free_port()
        processes.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "webapp",
                    "worker",
                    "-Q",
                    "ingest,search",
                    "-c",
                    "1",
                    "--without-gossip",
                    "--without-mingle",
                    "-n",
                    "load@bench",
                ],
                env,
                work / "worker.log",
            )
        )
        processes.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "webapp.asgi:application",
                ],
                env,
                work / "daphne.log",
            )
        )
        wait_until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 60, "daphne")
        csrf = "loadbenchcsrf0123456789abcdefghi"  # any 32-character token: cookie and header must match
        users = [User(port, session, csrf) for session in made["sessions"]]
        data = (
            first_frames(args.video, args.frames, work / "clip.mp4")
            if args.frames
            else args.video.read_bytes()
        )
        photo = person_photo(args.video, args.video.parent / "gt.txt")

        t0 = time.monotonic()
        first = upload(users[0], case_id, "first.avi", data)
        wait_until(lambda: job_status(users[0], case_id, first) in ("done", "failed"), 900, "first ingest")
        first_s = time.monotonic() - t0
        _, _, body = users[0].request("GET", f"/cases/{case_id}/videos/")
        video_id = json.loads(body)["videos"][0]["id"]

        peak = {"connections": 0}
        watching = threading.Event()

        def watch_connections() -> None:
            import psycopg

            with psycopg.connect(base_db.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
                while not watching.is_set():
                    row = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (DB,)
                    ).fetchone()
                    peak["connections"] = max(peak["connections"], int(row[0]) if row else 0)
                    if peak["connections"] > MAX_CONNECTIONS:
                        ABORT.set()
                    time.sleep(0.5)

        threading.Thread(target=watch_connections, daemon=True).start()
        idle = run_phase(users, case_id, video_id, photo, args.idle_seconds)
        t1 = time.monotonic()
        ingests = [upload(users[0], case_id, f"cam{i}.avi", data) for i in (2, 3)]
        loaded = run_phase(users, case_id, video_id, photo, args.seconds)
        wait_until(
            lambda: all(job_status(users[0], case_id, j) in ("done", "failed") for j in ingests),
            900,
            "the two ingests",
        )
        both_s = time.monotonic() - t1
        watching.set()
        states = [job_status(users[0], case_id, j) for j in ingests]

        def errors(log: list[Any]) -> list[Any]:
            return [(n, s, b.decode(errors="replace")) for n, s, _, b in log if s >= 400]

        idle_summary, load_summary = summary(idle), summary(loaded)
        report = {
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores (may be shared)",
            "users": args.users,
            "video": args.video.name + (f" (first {args.frames} frames)" if args.frames else ""),
            "db_connections_peak": peak["connections"],
            "first_ingest_s": round(first_s, 1),
            "two_ingests_s": round(both_s, 1),
            "ingest_states": states,
            "baseline_idle": idle_summary,
            "under_ingest": load_summary,
            "p95_ratio_load_over_idle": round(
                load_summary["all"]["p95_ms"] / idle_summary["all"]["p95_ms"], 2
            ),
            "error_responses": errors(idle) + errors(loaded),
        }
        for phase in ("baseline_idle", "under_ingest"):
            print(phase)
            for name, row in report.pop(phase).items():
                print(
                    f"  {name:15} n={row['n']:5.0f}  p50 {row['p50_ms']:7.1f} ms"
                    f"  p95 {row['p95_ms']:7.1f} ms  max {row['max_ms']:7.1f} ms"
                )
        print(json.dumps(report, indent=1))
        if ABORT.is_set():
            print(f"stopped early: more than {MAX_CONNECTIONS} database connections")
        if report["error_responses"] or states != ["done", "done"] or ABORT.is_set():
            raise SystemExit(1)
    finally:
        for process in reversed(processes):
            stop(process)
        import redis

        redis.Redis.from_url(f"{redis_server}/{redis_db}").flushdb()
        admin_sql(base_db, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
