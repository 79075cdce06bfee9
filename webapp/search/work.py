"""The search job's work: find the person in the query's photo, rank the case's tracks with reid_core and
store the hits. Run by the Celery task through jobs.run; queued by services.queue_search."""

from __future__ import annotations

import logging
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from reid_core.types import Moment
from webapp.cases.services import EvidenceLocked, ensure_unlocked
from webapp.footage import index_store
from webapp.footage.models import Track
from webapp.jobs import services as jobs
from webapp.jobs.models import Job
from webapp.search import case_index, services
from webapp.search.models import Hit, Query, QueryOutcome, Verdict

logger = logging.getLogger(__name__)

# Share of the job's progress bar per stage.
SEARCH_WEIGHTS = {"detect": 0.4, "search": 0.4, "store": 0.2}


def search_work(job: Job, reporter: jobs.Reporter) -> None:
    """Find the person in the photo, rank the case's tracks with reid_core, store the hits."""
    from reid_core.types import NoPersonError
    from reid_core.video import read_image
    from webapp.engine import get_engine

    query = Query.objects.select_related("case").filter(pk=job.query_id).first() if job.query_id else None
    if query is None:
        raise jobs.JobError("The query was deleted.")
    # Stage changes are the only events: each is a row update and a websocket message, and the whole job
    # takes well under a second.
    reporter.stage("detect")
    services.save_params(query, outcome=None)  # a re-run's earlier outcome must not stand for this one
    engine = get_engine()
    image = read_image(_photo_path(query))
    models = engine.models_info()
    box = query.params.get("box")
    if box is None:
        try:
            chosen, people = engine.choose_query_box(image)
        except NoPersonError:
            services.save_params(query, candidates=[], models=models, outcome=QueryOutcome.NO_PERSON)
            raise jobs.JobError(
                "No person was found in the photo. Draw a box around the person to search for them."
            ) from None
        candidates = [
            {"box": [round(float(v), 1) for v in c.box], "score": round(c.score, 3)} for c in people
        ]
        h, w = image.shape[:2]
        whole = list(chosen) == [0.0, 0.0, float(w), float(h)]
        clicked = services.pick_at(query.params.get("point"), candidates)
        if clicked is not None:
            cx, cy, cw, ch = (float(v) for v in clicked)
            chosen = (cx, cy, cw, ch)
        elif len(people) > 1 and not whole:
            services.save_params(
                query, candidates=candidates, models=models, outcome=QueryOutcome.CHOOSE_PERSON
            )
            with transaction.atomic():
                query.hits.all().delete()
            return  # the page shows the candidates; choose_person() queues the search
        box = [round(float(v), 1) for v in chosen]
        services.save_params(query, candidates=candidates, models=models, box=box)

    # An index made with another embedder (an upgrade changed the model) is re-embedded first, with
    # progress: its vectors cannot be compared with this photo's.
    index_store.bring_up_to_date(case_id=query.case_id, reporter=reporter)
    reporter.stage("search")
    try:
        index, catalog = case_index.load(query.case_id)
    except case_index.EmptyCaseError as exc:
        raise jobs.JobError(str(exc)) from None
    more_photos = []
    for n in range(len(query.params.get("more_photos", []))):
        path = services.extra_photo_path(query, n)
        if path is None or not path.is_file():
            raise jobs.JobError(f"Added photo {n + 2} of this search is missing from the media store.")
        extra = read_image(path)
        try:
            more_photos.append((extra, engine.choose_query_box(extra)[0]))
        except NoPersonError:
            raise jobs.JobError(
                f"No person was found in added photo {n + 2}. Use a photo showing the whole person."
            ) from None
    moments = engine.search(
        index,
        catalog,
        image,
        more_photos=more_photos,
        box=tuple(box),
        top_k=int(query.params.get("top_k") or services.default_top_k()),
        confirmed=[(str(v), int(t)) for v, t in query.params.get("confirmed", [])],
        rejected=[(str(v), int(t)) for v, t in query.params.get("rejected", [])],
    )

    reporter.stage("store")
    store_hits(query=query, moments=moments)
    services.save_params(query, outcome=QueryOutcome.RESULTS if moments else QueryOutcome.NO_RESULTS)


def _photo_path(query: Query) -> Path:
    return Path(query.photo.path)


def store_hits(*, query: Query, moments: list[Moment]) -> list[Hit]:
    """Replace the query's hits with the ranked moments; a verdict given to a track found again is kept,
    and a refined query starts with the verdicts of the query it came from."""
    wanted = {(int(m.video), m.track_id) for m in moments}
    # Keys only: the per-frame boxes of every candidate row (videos x track ids) cost more than the whole
    # search on a large case (bench/search_bench.py).
    candidates = Track.objects.filter(
        video_id__in={v for v, _ in wanted}, track_id__in={t for _, t in wanted}
    ).values_list("pk", "video_id", "track_id")
    tracks = {(v, t): pk for pk, v, t in candidates if (v, t) in wanted}
    if query.hits.exists():  # a search queued before the case was locked must not replace stored hits
        try:
            ensure_unlocked(query.case_id)
        except EvidenceLocked as exc:
            raise jobs.JobError(str(exc)) from exc
    with transaction.atomic():
        previous = {
            (v, t): (verdict, by, at)
            for v, t, verdict, by, at in Hit.objects.filter(
                query__in=[query.pk, query.refined_from_id or query.pk]
            )
            .order_by("query_id")  # this query's own verdicts (higher id) win over its parent's
            .values_list("track__video_id", "track__track_id", "verdict", "verdict_by", "verdict_at")
        }
        query.hits.all().delete()
        rows: list[Hit] = []
        for m in moments:
            track = tracks.get((int(m.video), m.track_id))
            before = previous.get((int(m.video), m.track_id), (Verdict.NONE, None, None))
            if track is None:
                logger.warning(
                    "query %s: track %s of video %s is gone; skipped", query.pk, m.track_id, m.video
                )
                continue
            rows.append(
                Hit(
                    query=query,
                    track_id=track,
                    score=float(m.score),
                    rank=len(rows) + 1,
                    start_s=float(m.start_s),
                    end_s=float(m.end_s),
                    verdict=before[0],
                    verdict_by_id=before[1],
                    verdict_at=before[2],
                )
            )
        created = Hit.objects.bulk_create(rows)
        query.last_run_at = timezone.now()
        query.save(update_fields=["last_run_at"])
    return created
