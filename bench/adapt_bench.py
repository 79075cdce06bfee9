"""Site adaptation (`reid adapt`) and simulated verdicts, measured on WILDTRACK C1-C4 and PETS09-S2L1.

    python bench/adapt_bench.py                 # both datasets, PETS at the default snapshot phase
    python bench/adapt_bench.py --phases 7      # PETS over the seven snapshot phases of embedder_spread.py
    python bench/adapt_bench.py --whiten 0.9    # also a within-track whitening (shrinkage 0.9) tried instead

WILDTRACK: the four camera folders indexed as one case, as `reid index` reads them (photo by photo), no
labels. The adaptation is learned from that index (photos linked across consecutive frames, see
reid_core.site), then measured with eval-xcam's protocols: ReID on the clean ground-truth crops (each crop is
centred on its camera's mean and expanded from the index without its own photo, as a snapshot of that
camera is) and end to end (the query crop adapted as a query photo is: camera unknown). The held-out figure
of `reid report` is printed beside, before and after, to see whether it predicts the change.

PETS: the eval-video protocol (leak-free: the query's +-20 frames are neither searched nor used to expand
the query) with the original and the adapted vectors, same ingest.

Verdicts: for each query, the top 10 results of the unrefined search are marked right or wrong from the
ground truth (right: most of the moment's boxes are the person's), then the search is run again as
`reid_core.search.rank_moments` refines it (query expanded with the confirmed tracks, confirmed first,
rejected removed); frame AP of both, same queries, same run.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
PHASES = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)


def refine(order: list, right: Callable[[object], bool], vectors_of, query, scoring: str) -> list:
    """The order after marking the top 10 (confirmed first, rejected removed, query expanded)."""
    from reid_core.search import SnapshotRef, expand_query, score_tracks

    top = order[:10]
    confirmed = [k for k in top if right(k)]
    rejected = {k for k in top if not right(k)}
    q = expand_query(query, [vectors_of(k) for k in confirmed], [vectors_of(k) for k in rejected])
    keys = [k for k in order if k not in rejected]
    refs, vecs = [], []
    for k in keys:
        v = vectors_of(k)
        refs += [SnapshotRef(str(k), 0, i, 0) for i in range(len(v))]
        vecs.append(v)
    by_name = {str(k): k for k in keys}
    ranked = [by_name[ts.key[0]] for ts in score_tracks(q, np.concatenate(vecs), refs, scoring)]
    first = set(confirmed)
    return sorted(ranked, key=lambda k: k not in first)


def wildtrack(engine, whiten: float | None, settings) -> dict[str, float]:
    from reid_core.adapt import adapt_known, adapt_queries, centre, learn
    from reid_core.catalog import Catalog
    from reid_core.eval.mot import iou
    from reid_core.eval.xcam import _frames, _score, crop_reid_compared, load_cameras
    from reid_core.index import VectorIndex
    from reid_core.pipeline import add_to_index
    from reid_core.report import compare
    from reid_core.search import SnapshotRef, score_tracks
    from reid_core.site import Mark, QueryVerdicts, load_site

    root = SHARED / "data" / "wildtrack_c1-c4"
    cameras = load_cameras(root)
    started = time.perf_counter()
    index, catalog = VectorIndex(engine.embedder.dim), Catalog(models=engine.models_info())
    ingests = {}
    for cam in cameras:
        ingests[cam.name] = engine.ingest(cam.footage, video=cam.name)
        add_to_index(index, catalog, ingests[cam.name])
    ingest_s = time.perf_counter() - started
    site = load_site(index, catalog, link_photos=True)
    started = time.perf_counter()
    adaptation = learn(site, settings)
    learn_s = time.perf_counter() - started
    tracks = {(n, t.track_id): t for n, ing in ingests.items() for t in ing.tracks}
    rows_of: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, k in enumerate(site.keys):
        rows_of[(k.video, k.track_id)].append(i)

    # The queries of eval-xcam's end-to-end protocol: per (camera, person) the largest clean box.
    queries = []
    for cam in cameras:
        by_id = defaultdict(list)
        for r in cam.rows:
            if r.clean:
                by_id[r.id].append(r)
        best = {gid: max(rs, key=lambda r: r.box[2] * r.box[3]) for gid, rs in by_id.items()}
        images = _frames(cam, {b.frame for b in best.values()}, "auto")
        for gid, b in sorted(best.items()):
            queries.append((cam, gid, b, engine.query_vector(images[b.frame], b.box), by_id[gid]))

    def truth(cam, gid, b, within: bool):
        """(clean, ignored) boxes of the person: in the other cameras, or in the camera's other photos."""
        pool = [cam] if within else [c for c in cameras if c is not cam]
        clean = {
            (c.name, r.frame): r.box
            for c in pool
            for r in c.rows
            if r.id == gid and r.clean and not (within and r.frame == b.frame)
        }
        ignored = defaultdict(list)
        for c in pool:
            for r in c.rows:
                if r.id == gid and not r.clean:
                    ignored[(c.name, r.frame)].append(r.box)
        return clean, ignored

    def is_right(key, clean, ignored) -> bool:
        f = tracks[key].frames
        hit = sum(
            iou(x.box, clean[(key[0], x.frame)]) >= 0.3
            if (key[0], x.frame) in clean
            else any(iou(x.box, g) >= 0.3 for g in ignored.get((key[0], x.frame), ()))
            for x in f
        )
        return hit * 2 > len(f)

    def end_to_end(a, within: bool = False, marks: list | None = None) -> float:
        """Frame AP over the queries (None: original vectors). within: the camera's other photos are
        searched instead of the other cameras. marks: collects the top 10 marked from the ground truth."""
        aps = []
        for cam, gid, b, q, _ in queries:
            clean, ignored = truth(cam, gid, b, within)
            if not clean:
                continue
            own = site.video_names.index(cam.name)
            if within:
                rows = np.flatnonzero((site.videos == own) & (site.frames != b.frame))
                not_footage = (site.videos == own) & (site.frames == b.frame)  # the query's own photo
            else:
                rows = np.flatnonzero(site.videos != own)
                not_footage = site.videos == own  # the query's camera is not the footage searched
            refs = [SnapshotRef(site.keys[i].video, site.keys[i].track_id, int(i), 0) for i in rows]
            if a is None:
                query, gallery = q, site.vectors
            else:
                query = adapt_queries(a, q[None], banned=lambda _i, r, m=not_footage: m[r])[0]
                gallery = a.vectors
            order = [ts.key for ts in score_tracks(query, gallery[rows], refs, engine.settings.scoring)]
            if marks is not None:
                marks.append(
                    QueryVerdicts(
                        tuple(
                            Mark(k[0], k[1], n, is_right(k, clean, ignored))
                            for n, k in enumerate(order[:10], 1)
                        )
                    )
                )
                again = refine(
                    order,
                    lambda k, c=clean, g=ignored: is_right(k, c, g),
                    lambda k: site.vectors[rows_of[k]],
                    query,
                    engine.settings.scoring,
                )
                aps.append(
                    (
                        _score(order, tracks, clean, ignored, 0.3)[0],
                        _score(again, tracks, clean, ignored, 0.3)[0],
                    )
                )
            else:
                aps.append(_score(order, tracks, clean, ignored, 0.3)[0])
        return aps

    marks: list = []
    pairs = end_to_end(None, marks=marks)
    res = {
        "e2e_before": float(np.mean([p[0] for p in pairs])),
        "e2e_verdicts": float(np.mean([p[1] for p in pairs])),
        "queries_e2e": len(pairs),
        "e2e_after": float(np.mean(end_to_end(adaptation))),
        "within_before": float(np.mean(end_to_end(None, within=True))),
        "within_after": float(np.mean(end_to_end(adaptation, within=True))),
    }
    # The same marks given to the adaptation (in-sample: they were made on these queries).
    judged = load_site(index, catalog, link_photos=True, verdicts=marks)
    with_verdicts = learn(judged, settings)
    res["e2e_after_verdicts"] = float(np.mean(end_to_end(with_verdicts)))

    # ReID on clean crops (eval-xcam's first protocol), same crops through each.
    transforms = {
        "after": lambda v, names, frames: adapt_known(adaptation, site, v, names, frames),
        "verdicts": lambda v, names, frames: adapt_known(with_verdicts, judged, v, names, frames),
        "centred": lambda v, names, frames: centre(
            v, adaptation.video_means[[site.video_names.index(n) for n in names]]
        ),
    }
    if whiten is not None:
        transforms["whiten"] = lambda v, names, frames: _whitened(
            site, v, np.array([site.video_names.index(n) for n in names]), adaptation.video_means, whiten
        )
    crops = crop_reid_compared(engine.embedder, cameras, "auto", transforms)
    res.update(
        crops_before=crops["embedder"].mAP,
        crops_after=crops["after"].mAP,
        crops_after_verdicts=crops["verdicts"].mAP,
        crops_centred_only=crops["centred"].mAP,
    )
    if whiten is not None:
        res["crops_whiten"] = crops["whiten"].mAP
    cmp, cmp_v = compare(site, adaptation), compare(judged, with_verdicts)
    res.update(
        held_out_tracks=cmp.before.tracks,
        held_out_before=cmp.before.found_first,
        held_out_after=cmp.after.found_first if cmp.after else float("nan"),
        verdict=cmp.verdict,
        across_tracks=cmp_v.across_before.tracks,
        across_before=cmp_v.across_before.found_first,
        across_after=cmp_v.across_after.found_first if cmp_v.across_after else float("nan"),
        verdict_with_verdicts=cmp_v.verdict,
        snapshots=len(site),
        ingest_s=ingest_s,
        learn_s=learn_s,
    )
    return res


def _whitened(site, v, vid_codes, means, shrink: float) -> np.ndarray:
    """The alternative kept for the record: whitening by within-group scatter (WCCN) with shrinkage."""
    from reid_core.adapt import centre

    c = centre(site.vectors, means[site.videos])
    diffs = []
    for g in np.unique(site.groups):
        rows = site.groups == g
        if rows.sum() >= 2:
            diffs.append(c[rows] - c[rows].mean(axis=0))
    d = np.concatenate(diffs)
    cov = d.T @ d / len(d)
    cov = (1 - shrink) * cov + shrink * np.trace(cov) / len(cov) * np.eye(len(cov))
    w, u = np.linalg.eigh(cov)
    return centre(v, means[vid_codes]) @ (u @ np.diag(w**-0.5) @ u.T)


def pets(engine, phase: float, settings) -> dict[str, float]:
    from reid_core.adapt import adapt_queries, learn
    from reid_core.catalog import Catalog
    from reid_core.eval.mot import iou, load_mot_gt
    from reid_core.eval.video_eval import pick_queries, score_query
    from reid_core.index import VectorIndex
    from reid_core.pipeline import Engine, add_to_index
    from reid_core.report import compare
    from reid_core.search import SnapshotRef, score_tracks
    from reid_core.site import load_site
    from reid_core.types import Track
    from reid_core.video import iter_frames

    video, gt_path = SHARED / "data" / "pets09_s2l1" / "vtest.avi", SHARED / "data" / "pets09_s2l1" / "gt.txt"
    s = engine.settings
    eng = Engine(
        engine.pack,
        engine.detector,
        engine.embedder,
        replace(s, snapshots=replace(s.snapshots, bucket_s=phase)),
    )
    ingest = eng.ingest(video, video=video.name)
    index, catalog = VectorIndex(engine.embedder.dim), Catalog(models=engine.models_info())
    add_to_index(index, catalog, ingest)
    site = load_site(index, catalog)
    adaptation = learn(site, settings)
    cmp = compare(site, adaptation)
    gt = load_mot_gt(gt_path)
    queries = pick_queries(gt)
    images = {f.index: f.image for f in iter_frames(video) if f.index in {q.frame for q in queries}}
    tracks = {t.track_id: t for t in ingest.tracks}
    window = 20
    out: dict[str, list[float]] = defaultdict(list)
    for q in queries:
        lo, hi = q.frame - window, q.frame + window
        gt_frames = {g.frame: g.box for g in gt if g.id == q.gt_id and not lo <= g.frame <= hi}
        keep = np.flatnonzero((site.frames < lo) | (site.frames > hi))
        refs = [SnapshotRef("", site.keys[i].track_id, i, 0) for i in keep]
        qv = eng.query_vector(images[q.frame], q.box)
        near = (site.frames >= lo) & (site.frames <= hi)
        qa = adapt_queries(adaptation, qv[None], banned=lambda _i, r, near=near: near[r])[0]
        scored = {
            tid: Track(tid, [f for f in t.frames if not lo <= f.frame <= hi]) for tid, t in tracks.items()
        }

        def right(tid, gt_frames=gt_frames, scored=scored) -> bool:
            f = scored[tid].frames
            hit = sum(x.frame in gt_frames and iou(x.box, gt_frames[x.frame]) >= 0.5 for x in f)
            return hit * 2 > len(f)

        for name, query, vecs in (("before", qv, site.vectors), ("after", qa, adaptation.vectors)):
            order = [ts.key[1] for ts in score_tracks(query, vecs[keep], refs, eng.settings.scoring)]
            out[f"ap_{name}"].append(score_query(order, scored, gt_frames)[0])
            if name == "before":
                by_tid = defaultdict(list)
                for i in keep:
                    by_tid[site.keys[i].track_id].append(i)
                again = refine(
                    order, right, lambda t, b=by_tid: site.vectors[b[t]], query, eng.settings.scoring
                )
                out["ap_verdicts"].append(score_query(again, scored, gt_frames)[0])
    res = {k: float(np.mean(v)) for k, v in out.items()}
    res.update(
        queries=len(queries),
        held_out_tracks=cmp.before.tracks,
        held_out_before=cmp.before.found_first,
        held_out_after=cmp.after.found_first if cmp.after else float("nan"),
    )
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--phases", type=int, choices=[1, 7], default=1, help="PETS snapshot phases (1: 1.0 s)")
    p.add_argument("--whiten", type=float, default=None, help="also measure within-track whitening")
    p.add_argument("--skip", choices=["pets", "wildtrack"], default=None)
    p.add_argument("--neighbours", type=int, default=None)
    p.add_argument("--weight", type=float, default=None)
    p.add_argument("--same-video", action="store_true", help="neighbours from the snapshot's own video too")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    from reid_core.adapt import AdaptSettings

    d = AdaptSettings()
    settings = AdaptSettings(
        neighbours=a.neighbours or d.neighbours,
        weight=d.weight if a.weight is None else a.weight,
        other_videos=not a.same_video,
    )
    os.environ.setdefault("REID_MODELS_DIRS", str(SHARED / "models"))
    from reid_core.pipeline import Engine

    engine = Engine.load("trained", threads=a.threads)
    print(f"embedder {engine.models_info()['embedder']}, {a.threads} threads, {settings}")
    if a.skip != "wildtrack":
        w = wildtrack(engine, a.whiten, settings)
        print("WILDTRACK C1-C4, one case, photo by photo, no labels:")
        print(
            f"  ReID on crops mAP: before {w['crops_before']:.3f}  adapted {w['crops_after']:.3f} "
            f"({w['crops_after'] - w['crops_before']:+.3f}; "
            f"camera centring alone {w['crops_centred_only']:.3f}"
            + (f"; whitening {w['crops_whiten']:.3f}" if "crops_whiten" in w else "")
            + f")  adapted with the verdicts below {w['crops_after_verdicts']:.3f}"
        )
        print(
            f"  end to end frame AP ({w['queries_e2e']} queries): before {w['e2e_before']:.3f}  "
            f"adapted {w['e2e_after']:.3f}  10 verdicts per query {w['e2e_verdicts']:.3f}  "
            f"adapted with those verdicts {w['e2e_after_verdicts']:.3f}"
        )
        print(
            f"  within each camera (other photos): frame AP before {w['within_before']:.3f}  "
            f"adapted {w['within_after']:.3f}"
        )
        print(
            f"  held-out within videos ({w['held_out_tracks']} linked photos): found first "
            f"before {w['held_out_before']:.3f}  adapted {w['held_out_after']:.3f}: {w['verdict']}"
        )
        print(
            f"  held-out across videos from the verdicts ({w['across_tracks']}): found first "
            f"before {w['across_before']:.3f}  adapted {w['across_after']:.3f}; "
            f"all held-out: {w['verdict_with_verdicts']}"
        )
        print(f"  {w['snapshots']} snapshots, ingest {w['ingest_s']:.1f} s, adaptation {w['learn_s']:.2f} s")
    if a.skip != "pets":
        rows = [pets(engine, ph, settings) for ph in (PHASES if a.phases == 7 else (1.0,))]
        m = {k: np.array([r[k] for r in rows]) for k in rows[0]}
        print(f"PETS09-S2L1 ({int(m['queries'][0])} queries, phases {len(rows)}): frame AP mean (sd)")
        for k, label in (("ap_before", "before"), ("ap_after", "adapted"), ("ap_verdicts", "10 verdicts")):
            per = " ".join(f"{x:.3f}" for x in m[k])
            print(f"  {label:12s} {m[k].mean():.3f} ({m[k].std():.3f})  {per}")
        print(
            f"  held-out ({int(m['held_out_tracks'][0])} tracks): found first before "
            f"{m['held_out_before'].mean():.3f}  after {m['held_out_after'].mean():.3f}"
        )


if __name__ == "__main__":
    main()
