"""Time to cut an evidence clip near the end of a long recording: seeking to the keyframe before the moment
against decoding from the first frame (the previous way), same file, same run.

    python bench/clip_bench.py [--minutes 60] [--clip-s 10] [--runs 3] [--baseline-runs 1]

The recording: the real PETS 2009 S2L1 clip (768x576, 10 fps) encoded once as H.264 MP4 with a keyframe every
4 s and B-frames, repeated by stream copy up to --minutes (tests/webapp/search/long_video.py; kept in --work
for later runs). The clip: the --clip-s seconds ending 5 s before the end. Both ways go through
webapp.search.clip_cut.cut_clip (seek=True / seek=False) and must give byte-identical files; the time is the
whole call (open, decode, encode, fsync, sha256). Needs neither PostgreSQL nor Redis.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "webapp" / "search"))

PETS_S = 79.5


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the recording")
    parser.add_argument("--clip-s", type=float, default=10.0, help="length of the clip")
    parser.add_argument("--runs", type=int, default=3, help="cuts with seeking (median reported)")
    parser.add_argument("--baseline-runs", type=int, default=1, help="cuts decoding from the first frame")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "sightline-clip-bench")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.test")
    os.environ.setdefault("SIGHTLINE_MEDIA_ROOT", str(args.work / "media"))
    import django

    django.setup()
    from long_video import long_pets

    from webapp.search.clip_cut import cut_clip

    copies = max(1, math.ceil(args.minutes * 60 / PETS_S))
    started = time.perf_counter()
    source = long_pets(args.work, copies=copies, height=576, gop=40)
    made_s = time.perf_counter() - started
    duration = copies * PETS_S
    end = duration - 5.0
    start = end - args.clip_s

    def cut(seek: bool, n: int) -> tuple[list[float], str, int]:
        times, digest, frames = [], "", 0
        for _ in range(n):
            t0 = time.perf_counter()
            target = args.work / f"clip-{'seek' if seek else 'full'}.mp4"
            clip = cut_clip(source, target, start, end, seek=seek)
            times.append(time.perf_counter() - t0)
            digest, frames = clip.sha256, clip.frames
        return times, digest, frames

    sought, sought_sha, frames = cut(True, args.runs)
    decoded, decoded_sha, decoded_frames = cut(False, args.baseline_runs)
    if (sought_sha, frames) != (decoded_sha, decoded_frames):
        raise SystemExit(f"the two ways differ: {sought_sha} ({frames}) vs {decoded_sha} ({decoded_frames})")
    seek_s, full_s = statistics.median(sought), statistics.median(decoded)
    report = {
        "recording": {
            "file": source.name,
            "minutes": round(duration / 60, 1),
            "size_mb": round(source.stat().st_size / 1e6, 1),
            "made_s": round(made_s, 1),
        },
        "clip": {"start_s": start, "end_s": end, "frames": frames, "sha256": sought_sha},
        "seek_s": [round(t, 3) for t in sought],
        "from_first_frame_s": [round(t, 3) for t in decoded],
        "speedup": round(full_s / seek_s, 1),
        "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()[0], "python": platform.python_version()},
    }
    print(json.dumps(report, indent=2))
    print(
        f"{args.clip_s:.0f} s clip ending {duration - end:.0f} s before the end of {duration / 60:.1f} min: "
        f"seek {seek_s:.2f} s (median of {len(sought)}) vs from the first frame {full_s:.2f} s: "
        f"{full_s / seek_s:.1f}x, identical files"
    )


if __name__ == "__main__":
    main()
