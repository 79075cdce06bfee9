"""Data lifecycle: deleting a case leaves nothing behind (rows and files); retention deletes old footage
except in cases locked as evidence; the audit trail survives both."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone
from media_samples import jpeg, ready_video, sample_track

from reid_core.index import VectorIndex, VectorKey
from webapp.audit.models import AuditEvent
from webapp.cases import services
from webapp.cases.models import Case, Membership, ShareLink
from webapp.footage.index_store import index_dir
from webapp.footage.models import Snapshot, Track, Video
from webapp.jobs import services as jobs
from webapp.jobs.models import Job, JobKind
from webapp.search import clips
from webapp.search.models import Hit, Query


def footage(case: Any, name: str = "cam.mp4") -> Video:
    """A video with everything ingestion and search leave: original, rendition, poster, track thumbnail,
    snapshot crop, vectors in the case index, a query photo and a hit."""
    video = ready_video(case, name)
    track = sample_track(video)
    track.thumbnail.save("thumb.jpg", ContentFile(jpeg()))
    snapshot = Snapshot.objects.create(track=track, ordinal=0, frame=5, t=0.5, box=[10, 10, 30, 80])
    snapshot.crop.save("crop.jpg", ContentFile(jpeg()))
    index = VectorIndex(8)
    index.add([VectorKey(str(video.pk), 1, 0)], np.ones((1, 8), np.float32) / np.sqrt(8))
    index.save(index_dir(case.pk) / "vectors")
    query = Query(case=case, photo_sha256="ef" * 32, params={})
    query.photo.save("q.jpg", ContentFile(jpeg()))
    Hit.objects.create(query=query, track=track, score=0.9, rank=1, start_s=0.2, end_s=1.5)
    return video


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_deleting_a_case_removes_every_row_and_file(client: Any, case: Any, member_of: Any) -> None:
    viewer = member_of("viewer")
    video = footage(case)
    hit = Hit.objects.get(track__video=video)
    client.force_login(case.owner)
    asked = client.post(f"/cases/{case.pk}/search/hits/{hit.pk}/clip")  # an export on disk, made by its job
    assert asked.status_code == 202
    made = jobs.run(job_id=asked.json()["job"]["job"], work=clips.clip_work)
    assert made is not None and made.status == "done", made and made.error
    services.create_share_link(case=case, actor=case.owner, role="viewer", expires_in=timedelta(days=1))
    Job.objects.create(case=case, kind=JobKind.SELFCHECK)
    folder = Path(settings.MEDIA_ROOT) / "cases" / str(case.pk)
    kinds = {name.split("/")[0] + "/" + name.split("/")[-1].split(".")[-1] for name in files_under(folder)}
    # Originals, renditions, posters, thumbnails, crops, vectors, query photos and exports are all there.
    assert {"videos/mp4", "videos/jpg", "index/npy", "queries/jpg"} <= kinds, kinds
    assert any("crops" in name for name in files_under(folder))
    assert any("/exports/clip-" in name for name in files_under(folder))

    # A wrong title and a locked case both refuse, and delete nothing.
    assert client.post(f"/cases/{case.pk}/delete", {"confirm": "nope"}).status_code == 302
    services.set_locked(case=case, locked=True, actor=case.owner)
    assert client.post(f"/cases/{case.pk}/delete", {"confirm": case.title}).status_code == 302
    assert folder.exists() and Case.objects.filter(pk=case.pk).exists()
    services.set_locked(case=case, locked=False, actor=case.owner)

    assert client.post(f"/cases/{case.pk}/delete", {"confirm": case.title})["Location"] == "/"
    assert not folder.exists()
    assert not Case.objects.filter(pk=case.pk).exists()
    assert not ShareLink.objects.exists()
    assert not Membership.objects.filter(user=viewer).exists()
    assert not Video.objects.exists() and not Track.objects.exists() and not Snapshot.objects.exists()
    assert not Query.objects.exists() and not Hit.objects.exists() and not Job.objects.exists()
    assert AuditEvent.objects.filter(case_id=case.pk, action="case.delete").count() == 1
    assert AuditEvent.objects.filter(case_id=case.pk).count() > 5  # the trail outlives the case


def test_retention_deletes_old_footage_unless_the_case_is_evidence(case: Any, make_user: Any) -> None:
    evidence = services.create_case(owner=case.owner, title="Kept as evidence")
    services.set_locked(case=evidence, locked=True, actor=case.owner)
    old, recent, kept = footage(case, "old.mp4"), footage(case, "recent.mp4"), footage(evidence, "kept.mp4")
    Video.objects.filter(pk__in=[old.pk, kept.pk]).update(created_at=timezone.now() - timedelta(days=40))
    old_folder = Path(settings.MEDIA_ROOT) / old.original.name
    assert old_folder.exists()

    out = StringIO()
    call_command("apply_retention", "--days", "30", stdout=out)
    assert "deleted 1 video(s) in 1 case(s)" in out.getvalue()
    assert set(Video.objects.values_list("original_name", flat=True)) == {"recent.mp4", "kept.mp4"}
    assert not old_folder.parent.exists()
    assert (Path(settings.MEDIA_ROOT) / recent.original.name).exists()
    assert (Path(settings.MEDIA_ROOT) / kept.original.name).exists()
    assert not VectorIndex.load(index_dir(case.pk) / "vectors").videos() - {str(recent.pk)}
    event = AuditEvent.objects.get(action="retention.delete")
    assert (event.case_id, event.actor_label, event.details["name"]) == (case.pk, "retention", "old.mp4")

    out = StringIO()
    call_command("apply_retention", stdout=out)  # SIGHTLINE_RETENTION_DAYS unset: off
    assert "off" in out.getvalue()
