"""`reid`: index footage, search it with a photo, evaluate, list models.

Errors the engine raises on purpose (ReidError) are printed as one line and exit with status 2.

Longer than most modules on purpose: each subcommand is one small function beside its argparse definition,
so the command's whole surface (options, output, exit codes) reads in one place; the work itself is in the
engine's modules.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from reid_core.models.registry import PACK_ALIASES, PACK_CHOICES, PACK_MODELS
from reid_core.types import Box, Moment, NoPersonError, Progress, QueryCandidate, ReidError

if TYPE_CHECKING:
    from reid_core.pipeline import Engine

INDEX_SUBDIR = "vectors"


def _engine(args: argparse.Namespace) -> Engine:
    from reid_core.pipeline import Engine, EngineSettings

    settings = EngineSettings()
    if getattr(args, "fps", None) is not None:
        settings = dataclasses.replace(settings, analysis_fps=args.fps if args.fps > 0 else None)
    engine = Engine.load(
        pack=args.pack, threads=args.threads, settings=settings, embedder=getattr(args, "embedder", None)
    )
    pack = engine.pack
    assert pack is not None  # Engine.load always chooses a pack
    print(
        f"models: {pack.name} pack ({pack.detector.spec.name} + {pack.embedder.spec.name}); {pack.reason}",
        file=sys.stderr,
    )
    if pack.appearance_only:
        print(
            "note: this pack measures appearance similarity (clothing colour and shape), not trained person "
            "re-identification; the trained pack (--pack trained) ships with the product",
            file=sys.stderr,
        )
    return engine


def _video_names(paths: Sequence[Path]) -> list[str]:
    names = [p.name for p in paths]
    # Names must be unique within an index: fall back to the path as given where two files share a name.
    return [n if names.count(n) == 1 else str(p) for n, p in zip(names, paths, strict=True)]


def cmd_index(args: argparse.Namespace) -> int:
    from reid_core.index_folder import IndexFolder

    engine = _engine(args)
    out: Path = args.out
    folder = IndexFolder.open_or_create(out, engine.models_info())
    paths = [Path(p) for p in args.footage]
    for path, name in zip(paths, _video_names(paths), strict=True):
        bars: list[Any] = []  # made at the first progress report: a file that fails to open shows no bar

        def progress(p: Progress, bars: list[Any] = bars, name: str = name) -> None:
            if not bars:
                bars.append(tqdm(desc=name, unit="frame", file=sys.stderr, disable=args.quiet))
            bar = bars[0]
            if p.total is not None:
                bar.total = p.total
            bar.n = p.done
            bar.set_postfix_str(f"{p.fps:.1f} fps", refresh=False)
            bar.refresh()

        try:
            ingest = engine.ingest(path, video=name, progress=progress, images=args.images)
        finally:
            for bar in bars:
                bar.close()
        folder.add_video(ingest)
        folder.save()
        st = ingest.stats
        print(
            f"{name}: {st.frames_analysed} frames analysed, {st.detections} detections, {st.tracks} tracks, "
            f"{st.embed_calls} embedding calls",
            file=sys.stderr,
        )
    print(
        f"index: {out} ({len(folder.catalog.videos)} videos, {len(folder.index)} vectors, "
        f"{folder.index.kind} search)"
    )
    return 0


def moment_json(m: Moment) -> dict[str, Any]:
    def box(b: tuple[float, float, float, float]) -> list[float]:
        return [round(v, 1) for v in b]

    return {
        "video": m.video,
        "track_id": m.track_id,
        "score": round(m.score, 4),
        "start_s": round(m.start_s, 3),
        "end_s": round(m.end_s, 3),
        "best": {"frame": m.best.frame, "t": round(m.best.t, 3), "box": box(m.best.box)},
        **({"image": m.image} if m.image is not None else {}),
        "frames": [{"frame": f.frame, "t": round(f.t, 3), "box": box(f.box)} for f in m.frames],
    }


def _query_box(engine: Engine, path: Path, image: Any, given: str | None) -> tuple[Box, list[QueryCandidate]]:
    if given:
        try:
            x, y, w, h = (float(v) for v in given.split(","))
        except ValueError:
            raise ReidError(f"--box {given!r}: expected four numbers x,y,w,h") from None
        return (x, y, w, h), []
    try:
        return engine.choose_query_box(image)
    except NoPersonError as exc:
        raise NoPersonError(f"{path}: {exc}") from None


def cmd_search(args: argparse.Namespace) -> int:
    from reid_core.index_folder import IndexFolder
    from reid_core.search import rank_moments
    from reid_core.video import read_image

    folder = IndexFolder.open(args.index)
    catalog, index = folder.catalog, folder.index
    built = catalog.models
    if args.pack == "auto" and built.get("pack"):
        # Search with the models the index was built with: its pack, and its embedder if that was a plug-in.
        base = PACK_ALIASES.get(str(built["pack"]).partition("+")[0], str(built["pack"]).partition("+")[0])
        if base in PACK_MODELS:
            args.pack = base
            own = PACK_MODELS[base][1]
            if args.embedder is None and built.get("embedder") not in (None, own):
                args.embedder = str(built["embedder"])  # a plug-in, or the embedder of a former pack
    engine = _engine(args)
    boxes = args.box or []
    if len(boxes) > len(args.query):
        raise ReidError(f"{len(boxes)} --box options for {len(args.query)} --query photos")
    vectors = []
    queries = []
    for n, path in enumerate(args.query):
        image = read_image(path)
        box, candidates = _query_box(engine, path, image, boxes[n] if n < len(boxes) else None)
        vectors.append(engine.query_vector(image, box))
        queries.append((path, box, candidates))
    folder.check_compatible(engine.models_info())
    query = engine.fused_query(vectors)
    if not args.original:
        from reid_core.adapt import load_active

        stored, used = load_active(args.index, args.index / INDEX_SUBDIR)
        print(f"searching the {used}", file=sys.stderr)
        if stored is not None:
            index, query = stored.adapted, stored.query(query)[0]
    moments = rank_moments(
        query,
        index,
        catalog,
        top_k=args.top,
        min_score=args.min_score,
        rerank=args.rerank,
        scoring=engine.settings.scoring,
    )
    if args.json:
        photos = [
            {
                "image": str(path),
                "box": [round(v, 1) for v in box],
                "candidates": [
                    {"box": [round(v, 1) for v in c.box], "score": round(c.score, 3)} for c in candidates
                ],
            }
            for path, box, candidates in queries
        ]
        doc = {
            # "query" is the first photo (as before several photos were accepted); "queries" lists them all.
            "query": photos[0],
            "queries": photos,
            "models": catalog.models,
            "hits": [moment_json(m) for m in moments],
        }
        print(json.dumps(doc, indent=2))
    else:
        for path, _, candidates in queries:
            if len(candidates) > 1:
                print(
                    f"{path}: {len(candidates)} people in the photo; searching for the largest "
                    "(pass --box x,y,w,h to choose another)",
                    file=sys.stderr,
                )
        if len(queries) > 1:
            print(f"{len(queries)} photos of one person, fused into one query", file=sys.stderr)
        for rank, m in enumerate(moments, 1):
            b = m.best
            where = f"  image {m.image}" if m.image is not None else ""
            print(
                f"{rank:3d}  {m.score:.3f}  {m.video}  {m.start_s:8.2f}s - {m.end_s:8.2f}s  "
                f"track {m.track_id}  best frame {b.frame} at {b.t:.2f}s box {[round(v) for v in b.box]}"
                + where
            )
        if not moments:
            print("no moments found")
    return 0


def _site(args: argparse.Namespace) -> Any:
    from reid_core.catalog import Catalog
    from reid_core.index import VectorIndex
    from reid_core.site import load_site, load_verdicts

    catalog = Catalog.load(args.index)
    index = VectorIndex.load(args.index / INDEX_SUBDIR)
    verdicts = load_verdicts(args.verdicts) if args.verdicts else []
    return load_site(index, catalog, verdicts=verdicts, link_photos=args.link_photos), verdicts


def _held_out_json(h: Any) -> dict[str, Any] | None:
    return None if h is None else dataclasses.asdict(h)


def _comparison_json(cmp: Any) -> dict[str, Any]:
    return {
        "before": _held_out_json(cmp.before),
        "after": _held_out_json(cmp.after),
        "across_before": _held_out_json(cmp.across_before),
        "across_after": _held_out_json(cmp.across_after),
    }


def _held_out_lines(cmp: Any) -> list[str]:
    lines = [_held_out_line("within videos, original", cmp.before)]
    if cmp.after is not None:
        lines.append(_held_out_line("within videos, adapted ", cmp.after))
    if cmp.across_before.tracks:
        lines.append(_held_out_line("across videos (from verdicts), original", cmp.across_before))
        if cmp.across_after is not None:
            lines.append(_held_out_line("across videos (from verdicts), adapted ", cmp.across_after))
    elif len(cmp.before.per_video) > 1:
        lines.append(
            "  across videos: not measured (no person is known in two videos without verdicts; results "
            "marked right in two videos for one query make one)"
        )
    return lines


def _held_out_line(label: str, h: Any) -> str:
    per = ", ".join(f"{v.video} {v.found_first:.2f} ({v.tracks})" for v in h.per_video)
    return (
        f"  {label}: {h.found_first:.3f} of {h.tracks} found first (MRR {h.mean_reciprocal_rank:.3f}); {per}"
    )


def cmd_adapt(args: argparse.Namespace) -> int:
    from reid_core import adapt
    from reid_core.report import MIN_TRACKS, compare

    if args.use:
        adapt.use(args.index, args.use)
        print(f"{args.index}: searches now use {args.use}")
        return 0
    # The version first: an index saved while this runs must make the adaptation stale, not look learned.
    built_from = adapt.index_version(args.index / INDEX_SUBDIR)
    site, _ = _site(args)
    settings = adapt.AdaptSettings(neighbours=args.neighbours, weight=args.weight)
    adaptation = adapt.learn(site, settings)
    cmp = compare(site, adaptation)
    apply = cmp.verdict in ("better", "same")
    why = {
        "better": "the held-out check improved",
        "same": "the held-out check did not change",
        "worse": "NOT applied: the held-out check got worse",
        "unknown": f"NOT applied: fewer than {MIN_TRACKS} long tracks to check it on",
    }[cmp.verdict]
    meta = {
        "held_out": _comparison_json(cmp),
        "verdict": cmp.verdict,
        "applied": apply,
        "link_photos": args.link_photos,
        "verdicts": {"positives": site.positives_from_verdicts, "negatives": site.negatives_from_verdicts},
    }
    version = adapt.save(
        args.index,
        site,
        adaptation,
        built_from=built_from,
        meta=meta,
        activate=apply,
    )
    active = adapt.active_version(args.index)
    if args.json:
        print(json.dumps({"version": version, "active": active, **meta}, indent=2))
        return 0
    print(f"{args.index}: adaptation {version} learned from {len(site)} snapshots without labels; {why}")
    print("\n".join(_held_out_lines(cmp)))
    print(f"searches use: {active}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from reid_core import adapt
    from reid_core.report import compare, rank_bands

    site, verdicts = _site(args)
    cmp = compare(site, adapt.learn(site) if len(site) else None)
    bands = rank_bands(verdicts)
    active = adapt.active_version(args.index)
    doc = {
        "snapshots": len(site),
        "videos": site.video_names,
        "held_out": _comparison_json(cmp),
        "verdict": cmp.verdict,
        "active": active,
        "rank_bands": [dataclasses.asdict(b) for b in bands],
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{args.index}: {len(site)} snapshots in {len(site.video_names)} videos; searches use: {active}")
    print("held-out track retrieval (one snapshot of each long track hidden and searched for):")
    print("\n".join(_held_out_lines(cmp)))
    if cmp.verdict == "unknown":
        print(f"  too few long tracks ({cmp.before.tracks}) to judge an adaptation")
    else:
        print(f"  an adaptation learned now: {cmp.verdict}")
    for b in bands:
        if b.marked:
            last = f"-{b.last}" if b.last else "+"
            print(
                f"ranks {b.first}{last}: {b.right} of {b.marked} marked results right ({b.share_right:.0%})"
            )
    return 0


def cmd_eval_xcam(args: argparse.Namespace) -> int:
    from reid_core.eval.xcam import evaluate_xcam

    engine = _engine(args)
    result = evaluate_xcam(engine, args.root, images=args.images, iou_threshold=args.iou)
    doc = dataclasses.asdict(result)
    doc["models"] = engine.models_info()
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    c = result.crops
    print(f"{args.root}: cameras {', '.join(result.cameras)} (folders read as: {result.images})")
    print(
        f"ReID on clean crops, each against the other cameras: mAP {c.mAP:.3f}  rank-1 {c.rank1:.3f}"
        f"  ({c.queries} queries, {c.gallery} crops)"
    )
    print(
        f"end to end: {result.queries} queries  frame AP {result.frame_ap:.3f}"
        f"  recall@5 {result.recall_at_5:.3f}"
        f"  ({result.tracks} moments indexed, {result.embed_calls} embedding calls, {result.ingest_s:.1f} s)"
    )
    for r in result.per_camera:
        print(
            f"  queries from {r.camera}: {r.queries}  frame AP {r.frame_ap:.3f}  recall@5 {r.recall_at_5:.3f}"
        )
    return 0


def cmd_eval_video(args: argparse.Namespace) -> int:
    from reid_core.eval.video_eval import evaluate_video

    engine = _engine(args)
    result = evaluate_video(engine, args.video, args.gt, scoring=args.scoring, rerank=args.rerank)
    doc = dataclasses.asdict(result)
    doc["models"] = engine.models_info()
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    t = result.tracking
    print(f"video {result.video}: {result.frames_analysed} frames analysed in {result.ingest_s:.1f} s")
    print(
        f"queries {len(result.queries)}  frame AP {result.frame_ap:.3f}  moment R@1 {result.recall_at_1:.3f}"
        f"  R@5 {result.recall_at_5:.3f}"
    )
    hota = f"{t.hota:.3f}" if t.hota is not None else f"n/a ({t.hota_note})"
    print(f"detection AP50 {result.detection_ap50:.3f}  MOTA {t.mota:.3f}  IDF1 {t.idf1:.3f}  HOTA {hota}")
    print(f"{result.detections} detections, {result.tracks} tracks, {result.embed_calls} embedding calls")
    return 0


def cmd_eval_reid(args: argparse.Namespace) -> int:
    from reid_core.eval.market import evaluate_market

    engine = _engine(args)
    result = evaluate_market(engine.embedder, args.root)
    if args.json:
        print(json.dumps(dataclasses.asdict(result), indent=2))
    else:
        ranks = "  ".join(f"R{k} {v:.3f}" for k, v in result.cmc.items())
        print(f"{args.root}: {result.queries} queries, {result.gallery} gallery images")
        print(f"mAP {result.mAP:.3f}  {ranks}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from reid_core.models import choose_pack, list_models

    rows = list_models()
    bad = 0
    for st in rows:
        where = f"{st.path} ({st.source})" if st.path else "-"
        print(f"{st.spec.name:24s} {st.spec.task:9s} {st.spec.pack:9s} {st.status:18s} {where}  {st.detail}")
        print(f"{'':24s} licence: {st.spec.licence}")
        bad += st.status == "checksum_mismatch"
    try:
        pack = choose_pack("auto")
        print(f"auto pack: {pack.name} ({pack.reason})")
    except ReidError as exc:
        print(f"auto pack: none usable ({exc})")
        return 2
    return 2 if bad else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reid", description="Find every moment a person appears in footage."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def images_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--images",
            default="auto",
            choices=["auto", "gallery", "sequence"],
            help="a folder of images: gallery (each photo on its own) or sequence (frames of one camera, "
            "tracked); auto: a sequence when 20+ same-size images are numbered in order",
        )

    def engine_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--pack",
            default="auto",
            choices=PACK_CHOICES,
            help="trained (the default: trained person ReID) or appearance (appearance similarity only); "
            "accurate and default are earlier names",
        )
        p.add_argument(
            "--embedder", default=None, help="a plug-in embedder from `reid models` instead of the pack's"
        )
        p.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: all cores)")

    p = sub.add_parser("index", help="index videos, images or folders of images")
    p.add_argument("footage", nargs="+", help="video files, images or folders of images")
    p.add_argument("--out", type=Path, required=True, help="index folder (created or extended)")
    p.add_argument("--fps", type=float, default=None, help="frames analysed per second (0: every frame)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    images_opt(p)
    engine_opts(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="search an index with a photo of a person")
    p.add_argument("--index", type=Path, required=True)
    p.add_argument(
        "--query",
        type=Path,
        required=True,
        action="append",
        help="a photo: a tight crop or a scene; repeat for several photos of one person (fused)",
    )
    p.add_argument("--top", type=int, default=10)
    p.add_argument(
        "--box",
        action="append",
        help="x,y,w,h of the person in the photo (default: the only or largest); one per --query, in order",
    )
    p.add_argument("--min-score", type=float, default=None)
    p.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking")
    p.add_argument("--json", action="store_true", help="the documented JSON output")
    p.add_argument("--original", action="store_true", help="the original vectors even if adapted")
    engine_opts(p)
    p.set_defaults(func=cmd_search)

    def site_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("index", type=Path, help="an index folder (reid index --out)")
        p.add_argument(
            "--verdicts", type=Path, default=None, help="marked results (JSON, see docs/engine.md)"
        )
        p.add_argument(
            "--link-photos",
            action="store_true",
            help="photos read one by one are consecutive frames of each camera: link overlapping boxes",
        )
        p.add_argument("--json", action="store_true")

    p = sub.add_parser("adapt", help="learn a site adaptation from the index itself, without labels")
    site_opts(p)
    p.add_argument("--neighbours", type=int, default=5)
    p.add_argument("--weight", type=float, default=1.0)
    p.add_argument("--use", default=None, help="switch searches to 'original' or a saved version (vNNNNNN)")
    p.set_defaults(func=cmd_adapt)

    p = sub.add_parser("report", help="how well the search works on this footage, without ground truth")
    site_opts(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "eval-video", help="moment retrieval, detection and tracking metrics on MOT ground truth"
    )
    p.add_argument("--video", type=Path, required=True)
    p.add_argument("--gt", type=Path, required=True, help="MOTChallenge gt.txt")
    p.add_argument("--scoring", default="mean", choices=["max", "mean_top2", "mean"])
    p.add_argument("--rerank", action="store_true")
    p.add_argument("--fps", type=float, default=None, help="frames analysed per second (0: every frame)")
    p.add_argument("--json", action="store_true")
    engine_opts(p)
    p.set_defaults(func=cmd_eval_video)

    p = sub.add_parser(
        "eval-xcam",
        help="cross-camera search: ReID on crops and end-to-end frame AP on multi-camera MOT data",
    )
    p.add_argument(
        "root", type=Path, help="folder with one sub-folder (or video) per camera and gt/<camera>.txt"
    )
    p.add_argument("--iou", type=float, default=0.3, help="box overlap that counts as found (default 0.3)")
    p.add_argument("--json", action="store_true")
    images_opt(p)
    engine_opts(p)
    p.set_defaults(func=cmd_eval_xcam)

    p = sub.add_parser("eval-reid", help="mAP / CMC on a Market-1501 layout folder")
    p.add_argument("root", type=Path, help="folder with query/ and bounding_box_test/")
    p.add_argument("--json", action="store_true")
    engine_opts(p)
    p.set_defaults(func=cmd_eval_reid)

    p = sub.add_parser("models", help="list models, where each was found, and verify checksums")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ReidError as exc:
        print(f"reid: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
