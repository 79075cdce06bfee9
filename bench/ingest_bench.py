"""Ingest speed: the engine (detect, track, a few snapshots per track) against a naive baseline that embeds
every detection of every frame, in the same run, with the per-stage breakdown.

    python bench/ingest_bench.py     # PETS09-S2L1: trained pack, the same with OSNet x0.25, appearance pack
    python bench/ingest_bench.py --packs trained --video clip.mp4 --json out.json

A run is a pack name, or pack+embedder for the pack with another embedder (e.g. trained+osnet_x0_25_msmt17,
the former accurate pack).

Real-time factor = footage duration / wall time. Wall time depends on what else runs on the machine: the
load average before and after is printed, and CPU seconds are reported beside wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
NAIVE_CONF = 0.3  # the detector's usual operating point: every person box a naive system would keep


def _load(run: str, threads: int) -> Any:
    from reid_core.pipeline import Engine

    pack, _, embedder = run.partition("+")
    return Engine.load(pack, threads=threads, embedder=embedder or None)


def run_engine(pack: str, video: Path, threads: int) -> dict[str, Any]:
    engine = _load(pack, threads)
    _warm(engine, video)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    ingest = engine.ingest(video, video=video.name)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    st = ingest.stats
    assert engine.pack is not None
    return {
        "pack": engine.pack.name,
        "models": [engine.pack.detector.spec.name, engine.pack.embedder.spec.name],
        "frames": st.frames_analysed,
        "duration_s": ingest.duration_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "ms_per_frame": 1000 * wall / st.frames_analysed,
        "realtime_x": ingest.duration_s / wall,
        "stages_ms_per_frame": {k: 1000 * v / st.frames_analysed for k, v in st.seconds.items()},
        "detections": st.detections,
        "tracks": st.tracks,
        "snapshots": len(ingest.snapshots),
        "embed_calls": st.embed_calls,
        "embed_share_of_wall": st.seconds.get("embed", 0.0) / wall,
    }


def run_naive(pack: str, video: Path, threads: int) -> dict[str, Any]:
    """Decode, detect, embed every detection (score >= NAIVE_CONF) of every frame; no tracking."""
    from reid_core.embed import crop
    from reid_core.video import iter_frames, probe

    engine = _load(pack, threads)
    _warm(engine, video)
    calls0 = engine.embed_calls
    stages = {"decode": 0.0, "detect": 0.0, "embed": 0.0}
    frames = boxes = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    t = time.perf_counter()
    for frame in iter_frames(video, engine.settings.analysis_fps):
        now = time.perf_counter()
        stages["decode"] += now - t
        dets = [d for d in engine.detector.detect([frame.image])[0] if d.score >= NAIVE_CONF]
        t = time.perf_counter()
        stages["detect"] += t - now
        engine.embedder.embed([crop(frame.image, d.box) for d in dets])
        now = time.perf_counter()
        stages["embed"] += now - t
        t = now
        frames += 1
        boxes += len(dets)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    duration = probe(video).duration_s or 0.0
    return {
        "pack": pack,
        "frames": frames,
        "wall_s": wall,
        "cpu_s": cpu,
        "ms_per_frame": 1000 * wall / frames,
        "realtime_x": duration / wall,
        "stages_ms_per_frame": {k: 1000 * v / frames for k, v in stages.items()},
        "detections_embedded": boxes,
        "embed_calls": engine.embed_calls - calls0,
    }


def _warm(engine: Any, video: Path) -> None:
    from reid_core.embed import crop
    from reid_core.video import iter_frames

    for n, frame in enumerate(iter_frames(video)):
        engine.detector.detect([frame.image])
        engine.embedder.embed([crop(frame.image, (0, 0, 64, 128))])
        if n == 4:
            break


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path, default=SHARED / "data" / "pets09_s2l1" / "vtest.avi")
    p.add_argument("--packs", nargs="+", default=["trained", "trained+osnet_x0_25_msmt17", "appearance"])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    p.add_argument("--json", type=Path, help="also write the results here")
    a = p.parse_args()
    os.environ.setdefault("REID_MODELS_DIRS", str(SHARED / "models"))

    out: dict[str, Any] = {
        "video": a.video.name,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "threads": a.threads,
        "load_before": os.getloadavg(),
        "runs": [],
    }
    print(f"{a.video.name} on {out['machine']}, {a.threads} threads, load {out['load_before'][0]:.1f}")
    for pack in a.packs:
        r = run_engine(pack, a.video, a.threads)
        out["runs"].append(r)
        _print("engine", r)
    if not a.no_naive:
        naive = run_naive(a.packs[0], a.video, a.threads)
        out["naive"] = naive
        _print("naive", naive)
        eng = out["runs"][0]
        out["ratios"] = {
            "embed_calls_naive_over_engine": naive["embed_calls"] / max(1, eng["embed_calls"]),
            "wall_naive_over_engine": naive["wall_s"] / eng["wall_s"],
        }
        ratios = out["ratios"]
        print(
            f"naive / engine ({a.packs[0]}): {ratios['embed_calls_naive_over_engine']:.0f}x embedding calls, "
            f"{ratios['wall_naive_over_engine']:.2f}x wall time"
        )
    out["load_after"] = os.getloadavg()
    print(f"load average after: {out['load_after'][0]:.1f}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))


def _print(kind: str, r: dict[str, Any]) -> None:
    stages = "  ".join(f"{k} {v:.2f}" for k, v in r["stages_ms_per_frame"].items())
    print(
        f"{kind:6s} {r['pack']:26s} {r['frames']} frames  {r['wall_s']:.1f} s wall ({r['cpu_s']:.1f} s CPU)  "
        f"{r['ms_per_frame']:.2f} ms/frame  {r['realtime_x']:.1f}x real time  embed calls {r['embed_calls']}"
    )
    print(f"       ms/frame by stage: {stages}")
    if "tracks" in r:
        print(
            f"       {r['detections']} detections, {r['tracks']} tracks, {r['snapshots']} snapshots; "
            f"embedding {100 * r['embed_share_of_wall']:.0f}% of the wall time"
        )


if __name__ == "__main__":
    main()
