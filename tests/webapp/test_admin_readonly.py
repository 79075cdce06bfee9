"""Rows only the engine writes (tracks, snapshots, hits, queries) are read-only in the admin: no Add, no
change, no delete, even for a superuser; they can still be looked at. Videos come only through an upload
(probe, hash, ingest) and go only through the footage panel (files and vectors with them): no Add, no delete
in the admin."""

from __future__ import annotations

from typing import Any

import pytest
from media_samples import results_fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(case: Any) -> dict[str, Any]:
    from webapp.footage.models import Snapshot

    query, hit = results_fixture(case)
    snapshot = Snapshot.objects.create(track=hit.track, ordinal=0, frame=5, t=0.5, box=[10, 10, 30, 80])
    return {"track": hit.track, "snapshot": snapshot, "hit": hit, "query": query, "video": hit.track.video}


ENGINE_ROWS = [("footage", "track"), ("footage", "snapshot"), ("search", "hit"), ("search", "query")]


@pytest.mark.parametrize(("app", "model"), ENGINE_ROWS)
def test_engine_rows_are_read_only(admin_client: Any, rows: dict[str, Any], app: str, model: str) -> None:
    obj = rows[model]
    base = f"/admin/{app}/{model}/"
    listing = admin_client.get(base)
    assert listing.status_code == 200
    assert f'href="{base}add/"' not in listing.content.decode()
    assert admin_client.get(f"{base}add/").status_code == 403
    view = admin_client.get(f"{base}{obj.pk}/change/")
    assert view.status_code == 200  # looking is fine
    assert 'name="_save"' not in view.content.decode()
    assert admin_client.post(f"{base}{obj.pk}/change/", {}).status_code == 403
    assert admin_client.get(f"{base}{obj.pk}/delete/").status_code == 403
    bulk = admin_client.post(base, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
    assert type(obj).objects.filter(pk=obj.pk).exists(), bulk.status_code


def test_videos_are_neither_added_nor_deleted_in_the_admin(admin_client: Any, rows: dict[str, Any]) -> None:
    video = rows["video"]
    assert admin_client.get("/admin/footage/video/add/").status_code == 403
    assert admin_client.get(f"/admin/footage/video/{video.pk}/delete/").status_code == 403
    admin_client.post(
        "/admin/footage/video/", {"action": "delete_selected", "_selected_action": [video.pk], "post": "yes"}
    )
    assert type(video).objects.filter(pk=video.pk).exists()
    assert admin_client.get(f"/admin/footage/video/{video.pk}/change/").status_code == 200
