"""A video's recording start and camera label: the default read from the file's creation_time tag at upload,
the edit through the footage API (local date, time and named zone in; aware UTC stored), who may make it,
its audit trail with old and new values, and the wall-clock times search results and exports then show.

Real files made by ffmpeg, the real database, Django's test client."""

from __future__ import annotations

import base64
import csv
import io
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from media_samples import results_fixture

from webapp.audit.models import AuditEvent
from webapp.cases.models import Case
from webapp.footage import media, services
from webapp.footage.forms import VideoDetailsForm
from webapp.footage.models import Video

pytestmark = pytest.mark.django_db

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def ffmpeg_clip(path: Path, creation_time: str | None) -> Path:
    """One second of test pattern, H.264, tagged with creation_time the way cameras and exporters do."""
    tag = ["-metadata", f"creation_time={creation_time}"] if creation_time else []
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "1",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", *tag, str(path)],
        check=True,
    )  # fmt: skip
    return path


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the default from the file ---------------------------------------------------------------------------


def test_probe_reads_the_creation_time_tag(tmp_path: Path) -> None:
    tagged = {
        "tagged.mp4": "2024-05-01T08:00:00Z",
        "tagged.mkv": "2024-05-01T10:00:00+02:00",  # stored by ffmpeg in UTC
    }
    for name, value in tagged.items():
        info = media.probe(ffmpeg_clip(tmp_path / name, value))
        assert info.creation_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC), name
    assert media.probe(ffmpeg_clip(tmp_path / "plain.mp4", None)).creation_time is None
    # An unset date (the epoch) or one in the future is no recording start.
    assert media.probe(ffmpeg_clip(tmp_path / "epoch.mkv", "1970-01-01T00:00:00Z")).creation_time is None
    assert media.probe(ffmpeg_clip(tmp_path / "future.mkv", "2099-01-01T00:00:00Z")).creation_time is None


def test_upload_takes_the_recording_start_from_the_file(case: Case, tmp_path: Path) -> None:
    data = ffmpeg_clip(tmp_path / "gate.mp4", "2024-05-01T08:00:00Z").read_bytes()
    client = login(case.owner)
    name = base64.b64encode(b"gate.mp4").decode()
    created = client.post(
        f"/cases/{case.pk}/uploads/",
        HTTP_UPLOAD_LENGTH=str(len(data)),
        HTTP_UPLOAD_METADATA=f"filename {name}",
        **TUS,
    )
    location = created["Location"]
    patched = client.generic(
        "PATCH", location, data, content_type="application/offset+octet-stream", HTTP_UPLOAD_OFFSET="0", **TUS
    )
    assert patched.status_code == 204
    done = client.post(f"{location}/complete", {"camera_label": "Gate 3"})
    assert done.status_code == 201, done.content
    shown = done.json()["video"]
    assert (shown["recording_started_at"], shown["recording_start_source"]) == (
        "2024-05-01T08:00:00+00:00",
        "file",
    )
    video = Video.objects.get(pk=shown["id"])
    assert video.recording_started_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    upload_event = AuditEvent.objects.get(action="video.upload", target_id=str(video.pk))
    assert upload_event.details["recording_started_at"] == "2024-05-01T08:00:00+00:00"
    assert upload_event.details["recording_start_source"] == "file"
    listed = client.get(f"/cases/{case.pk}/videos/").json()["videos"][0]
    assert listed["recording_start_source"] == "file"


# --- input checks ----------------------------------------------------------------------------------------


def start_form(date: str, time: str, zone: str) -> VideoDetailsForm:
    return VideoDetailsForm({"recording_date": date, "recording_time": time, "timezone": zone})


@pytest.mark.parametrize(
    ("date", "time", "zone", "utc"),
    [
        ("2024-05-01", "10:00:00", "Europe/Berlin", datetime(2024, 5, 1, 8, 0, tzinfo=UTC)),  # summer, +2
        ("2024-01-15", "10:00", "Europe/Berlin", datetime(2024, 1, 15, 9, 0, tzinfo=UTC)),  # winter, +1
        ("2024-05-01", "23:30:15", "America/New_York", datetime(2024, 5, 2, 3, 30, 15, tzinfo=UTC)),
        ("2024-05-01", "08:00:00.5", "UTC", datetime(2024, 5, 1, 8, 0, 0, 500_000, tzinfo=UTC)),
    ],
)
def test_local_date_and_time_in_a_named_zone_become_utc(
    date: str, time: str, zone: str, utc: datetime
) -> None:
    form = start_form(date, time, zone)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["recording_started_at"] == utc
    assert form.cleaned_data["recording_started_at"].utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"recording_date": "2024-05-01", "recording_time": ""}, "both the date and the time"),
        ({"recording_date": "", "recording_time": "10:00"}, "both the date and the time"),
        ({"recording_date": "2024-05-01", "recording_time": "10:00"}, "which time zone"),
        (
            {"recording_date": "2024-05-01", "recording_time": "10:00", "timezone": "Mars/Olympus"},
            "Unknown time zone",
        ),
        (
            {"recording_date": "2024-05-01", "recording_time": "10:00", "timezone": "../etc/passwd"},
            "Unknown time zone",
        ),
        (
            {"recording_date": "01/05/2024", "recording_time": "10:00", "timezone": "UTC"},
            "Date: Enter a valid date",
        ),
        (
            {"recording_date": "2024-05-01", "recording_time": "25:00", "timezone": "UTC"},
            "Time: Enter a valid time",
        ),
        (
            {"recording_date": "2099-01-01", "recording_time": "10:00", "timezone": "UTC"},
            "between 1970 and today",
        ),
        # 02:30 on 31 March 2024 never happened in Berlin; 02:30 on 27 October 2024 happened twice.
        (
            {"recording_date": "2024-03-31", "recording_time": "02:30", "timezone": "Europe/Berlin"},
            "does not exist",
        ),
        (
            {"recording_date": "2024-10-27", "recording_time": "02:30", "timezone": "Europe/Berlin"},
            "happens twice",
        ),
        ({"camera_label": "x" * 201}, "Camera label: Ensure this value has at most 200"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(data: dict[str, str], words: str) -> None:
    form = VideoDetailsForm(data)
    assert not form.is_valid()
    assert words in form.first_error()


def test_empty_date_and_time_clear_the_start_and_absent_fields_stay() -> None:
    form = VideoDetailsForm({"recording_date": "", "recording_time": "", "timezone": ""})
    assert form.is_valid() and form.sets_start and not form.sets_label
    assert form.cleaned_data["recording_started_at"] is None
    only_label = VideoDetailsForm({"camera_label": "  Gate 3 "})
    assert only_label.is_valid() and only_label.sets_label and not only_label.sets_start
    assert only_label.cleaned_data["camera_label"] == "Gate 3"


# --- the service and its audit trail ----------------------------------------------------------------------


def test_each_change_is_audited_with_old_and_new_values(case: Case) -> None:
    query, _ = results_fixture(case)
    video = query.hits.get().track.video
    start = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    services.update_video_details(
        video=video, actor=case.owner, camera_label="Gate 3", recording_started_at=start,
        entered_as="2024-05-01 10:00:00 Europe/Berlin",
    )  # fmt: skip
    video.refresh_from_db()
    assert (video.camera_label, video.recording_started_at, video.recording_start_source) == (
        "Gate 3",
        start,
        "user",
    )
    first = AuditEvent.objects.get(action="video.details")
    assert (first.actor_id, first.case_id, first.target_id) == (case.owner.pk, case.pk, str(video.pk))
    assert first.details["camera_label"] == {"old": "", "new": "Gate 3"}
    assert first.details["recording_started_at"] == {
        "old": None,
        "new": "2024-05-01T08:00:00+00:00",
        "old_source": "",
        "entered_as": "2024-05-01 10:00:00 Europe/Berlin",
    }

    # The same values again change nothing and log nothing; the label alone leaves the start as it is.
    services.update_video_details(
        video=video, actor=case.owner, camera_label="Gate 3", recording_started_at=start
    )
    assert AuditEvent.objects.filter(action="video.details").count() == 1
    services.update_video_details(video=video, actor=case.owner, camera_label="")
    video.refresh_from_db()
    assert (video.camera_label, video.recording_started_at) == ("", start)
    services.update_video_details(video=video, actor=case.owner, recording_started_at=None)
    video.refresh_from_db()
    assert (video.recording_started_at, video.recording_start_source) == (None, "")
    later = list(AuditEvent.objects.filter(action="video.details").order_by("id"))[1:]
    assert [set(e.details) - {"video", "name"} for e in later] == [{"camera_label"}, {"recording_started_at"}]
    assert later[0].details["camera_label"] == {"old": "Gate 3", "new": ""}
    assert later[1].details["recording_started_at"] == {
        "old": "2024-05-01T08:00:00+00:00",
        "new": None,
        "old_source": "user",
    }


# --- the endpoint: roles, input, and what search results and exports show afterwards ----------------------


def details_url(video: Video) -> str:
    return f"/cases/{video.case_id}/videos/{video.pk}/details"


BERLIN_10AM = {
    "camera_label": "Gate 3",
    "recording_date": "2024-05-01",
    "recording_time": "10:00:00",
    "timezone": "Europe/Berlin",
}


def test_editors_and_the_owner_may_change_details_viewers_and_outsiders_not(
    case: Case, member_of: Any, make_user: Any
) -> None:
    query, _ = results_fixture(case)
    video = query.hits.get().track.video
    url = details_url(video)
    viewer, editor, outsider = member_of("viewer"), member_of("editor"), make_user()

    assert Client().post(url, BERLIN_10AM).status_code == 404  # anonymous: like a case that does not exist
    assert login(outsider).post(url, BERLIN_10AM).status_code == 404
    assert login(viewer).post(url, BERLIN_10AM).status_code == 403
    assert login(viewer).get(f"/cases/{case.pk}/videos/").status_code == 200  # viewers still see them
    video.refresh_from_db()
    assert (video.camera_label, video.recording_started_at) == ("", None)
    assert not AuditEvent.objects.filter(action="video.details").exists()

    answer = login(editor).post(url, BERLIN_10AM)
    assert answer.status_code == 200, answer.content
    shown = answer.json()["video"]
    assert (shown["camera_label"], shown["recording_started_at"], shown["recording_start_source"]) == (
        "Gate 3",
        "2024-05-01T08:00:00+00:00",
        "user",
    )
    event = AuditEvent.objects.get(action="video.details")
    assert event.actor_id == editor.pk and event.details["recording_started_at"]["entered_as"] == (
        "2024-05-01 10:00:00 Europe/Berlin"
    )
    assert login(case.owner).post(url, {"camera_label": "Gate 4"}).status_code == 200
    video.refresh_from_db()
    assert (video.camera_label, video.recording_started_at) == ("Gate 4", datetime(2024, 5, 1, 8, tzinfo=UTC))

    # A video of another case is the same 404 as a missing one, even for that case's owner.
    other = Case.objects.create(owner=case.owner, title="Elsewhere")
    assert (
        login(case.owner).post(f"/cases/{other.pk}/videos/{video.pk}/details", BERLIN_10AM).status_code == 404
    )


def test_bad_input_answers_400_with_the_message_and_changes_nothing(case: Case) -> None:
    query, _ = results_fixture(case)
    video = query.hits.get().track.video
    answer = login(case.owner).post(
        details_url(video), {**BERLIN_10AM, "recording_date": "2024-03-31", "recording_time": "02:30"}
    )
    assert answer.status_code == 400
    assert "does not exist in Europe/Berlin" in answer.json()["error"]
    video.refresh_from_db()
    assert (video.camera_label, video.recording_started_at) == ("", None)
    assert not AuditEvent.objects.filter(action="video.details").exists()


def test_search_results_and_exports_show_wall_clock_times_after_the_edit(case: Case) -> None:
    query, hit = results_fixture(case)  # the hit runs from 0.2 s to 1.5 s into the video
    client = login(case.owner)
    results_url = f"/cases/{case.pk}/search/queries/{query.pk}/"
    before = client.get(results_url).json()["hits"][0]
    assert before["start_wall"] is None

    assert client.post(details_url(hit.track.video), BERLIN_10AM).status_code == 200

    doc = client.get(results_url).json()
    shown = doc["hits"][0]
    assert (shown["start_wall"], shown["end_wall"]) == (
        "2024-05-01T08:00:00.200000+00:00",
        "2024-05-01T08:00:01.500000+00:00",
    )
    assert doc["videos"][str(hit.track.video_id)]["label"] == "Gate 3"
    rows = list(csv.DictReader(io.StringIO(client.get(f"{results_url}hits.csv").content.decode())))
    assert (rows[0]["camera"], rows[0]["start_wall_clock"]) == ("Gate 3", "2024-05-01 08:00:00.2 UTC")
    report = client.get(f"{results_url}report").content.decode()
    assert "2024-05-01 08:00:00.2 UTC" in report and "Gate 3" in report
