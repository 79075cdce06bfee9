"""Every URL pattern and the websocket route x every role, with the exact status each must get.

The table is checked against the resolver: a route added without a row here fails
test_every_route_has_a_row. Roles: anonymous, outsider (signed in, not a member), viewer, editor, owner and
staff (a superuser who is not a member: operators use the admin, they do not see cases).

Designed outcomes, stated once:
- outsider and staff: 404 on every case URL (never 403: a case's existence is not leaked);
- anonymous: HTML pages and the jobs API (login_required) redirect to the login page (302), the footage and
  search API answer 404 like for an outsider;
- a member whose role lacks the capability: 403;
- a member whose role has it: the row's `ok` status. A few rows get past the permission check and stop at
  input checks on purpose (the fixture case has no search index): the status says which check.
- share links: the token is the credential, so any signed-in person holding a live one may open it.
- unfinished uploads: each member asks about their own (another's is 404 even to members, see
  tests/security/test_uploads_owned.py); outsiders, staff and anonymous users ask about the owner's.
- uploaded media is never served from MEDIA_URL: only through the views above.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from media_samples import jpeg, ready_video, sample_track

from webapp.cases.permissions import Capability as C

ROLES = ("anonymous", "outsider", "viewer", "editor", "owner", "staff")
# Written out here rather than imported, so a change to the role table shows up as a failing row.
GRANTS = {
    "viewer": {C.VIEW},
    "editor": {C.VIEW, C.SEARCH, C.REVIEW, C.UPLOAD, C.EDIT, C.EXPORT},
    "owner": set(C),
}
LOGIN = "login"  # needs a signed-in user, no case
TOKEN = "token"  # a share link: the token is the credential
STAFF = "staff"  # the admin


@dataclass(frozen=True)
class Row:
    method: str
    need: C | str
    ok: int
    anon: int = 404
    data: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    kwargs: Callable[[dict[str, Any]], dict[str, Any]] = lambda w: {"case_id": w["case"].pk}

    def expected(self, role: str) -> int:
        if role == "anonymous":
            return self.anon
        if self.need == LOGIN or self.need == TOKEN:
            return self.ok
        if self.need == STAFF:
            return self.ok if role == "staff" else 302
        if role in ("outsider", "staff"):
            return 404
        return self.ok if self.need in GRANTS[role] else 403


TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def video(w: dict[str, Any]) -> dict[str, Any]:
    return {"case_id": w["case"].pk, "video_id": w["video"].pk}


def query(w: dict[str, Any]) -> dict[str, Any]:
    return {"case_id": w["case"].pk, "query_id": w["query"].pk}


def hit(w: dict[str, Any]) -> dict[str, Any]:
    return {"case_id": w["case"].pk, "hit_id": w["hit"].pk}


def clip_job(w: dict[str, Any]) -> dict[str, Any]:
    return {"case_id": w["case"].pk, "job_id": w["clip_job"].pk}


def own_upload(w: dict[str, Any]) -> dict[str, Any]:
    return {"case_id": w["case"].pk, "upload_id": w["uploads"].get(w["role"], w["uploads"]["owner"])}


def member(w: dict[str, Any]) -> dict[str, Any]:
    return {"case_id": w["case"].pk, "user_id": w["users"]["viewer"].pk}


TABLE: dict[str, list[Row]] = {
    "cases:list": [Row("get", LOGIN, 200, anon=302, kwargs=lambda w: {})],
    "cases:create": [Row("get", LOGIN, 200, anon=302, kwargs=lambda w: {})],
    "cases:detail": [Row("get", C.VIEW, 200, anon=302)],
    "cases:invite": [Row("post", C.SHARE, 302, anon=302, data={"identifier": "spare", "role": "viewer"})],
    "cases:member-role": [Row("post", C.SHARE, 302, anon=302, data={"role": "editor"}, kwargs=member)],
    "cases:member-remove": [Row("post", C.SHARE, 302, anon=302, kwargs=member)],
    "cases:leave": [Row("post", C.VIEW, 302, anon=302)],
    "cases:transfer": [Row("post", C.MANAGE, 302, anon=302, data={"user_id": "0"})],
    "cases:link-create": [Row("post", C.SHARE, 200, anon=302, data={"role": "viewer", "days": "7"})],
    "cases:link-revoke": [
        Row(
            "post",
            C.SHARE,
            302,
            anon=302,
            kwargs=lambda w: {"case_id": w["case"].pk, "link_id": w["link"].pk},
        )
    ],
    "cases:delete": [Row("post", C.MANAGE, 302, anon=302, data={"confirm": "Station platform"})],
    "cases:lock": [Row("post", C.MANAGE, 302, anon=302, data={"locked": "1"})],
    "cases:audit": [Row("get", C.MANAGE, 200, anon=302)],
    "cases:redeem": [Row("get", TOKEN, 200, anon=302, kwargs=lambda w: {"token": w["token"]})],
    "jobs:case-jobs": [Row("get", C.VIEW, 200, anon=302)],
    "jobs:selfcheck": [Row("post", C.UPLOAD, 201, anon=302)],
    "jobs:cancel": [Row("post", C.EDIT, 200, anon=302, kwargs=lambda w: {"job_id": w["queued_job"].pk})],
    "jobs:retry": [Row("post", C.UPLOAD, 200, anon=302, kwargs=lambda w: {"job_id": w["failed_job"].pk})],
    "footage:uploads": [
        Row("post", C.UPLOAD, 201, headers={**TUS, "HTTP_UPLOAD_LENGTH": "10"}),
        Row("options", C.UPLOAD, 204, headers=TUS),
    ],
    "footage:upload": [
        Row(
            "head",
            C.UPLOAD,
            200,
            headers=TUS,
            kwargs=own_upload,
        )
    ],
    # Past the permission check the unfinished upload is refused: 422 with the byte count.
    "footage:complete": [
        Row("post", C.UPLOAD, 422, kwargs=own_upload)
    ],
    "footage:videos": [Row("get", C.VIEW, 200)],
    "footage:stream": [Row("get", C.VIEW, 200, kwargs=video), Row("head", C.VIEW, 200, kwargs=video)],
    "footage:poster": [Row("get", C.VIEW, 200, kwargs=video)],
    "footage:details": [Row("post", C.EDIT, 200, data={"camera_label": "Gate 3"}, kwargs=video)],
    "footage:delete": [Row("post", C.EDIT, 200, kwargs=video)],
    # The fixture video is ready, so there is nothing to retry: 409 says so.
    "footage:retry": [Row("post", C.UPLOAD, 409, kwargs=video)],
    "search:queries": [Row("get", C.VIEW, 200), Row("post", C.SEARCH, 400)],  # 400: no photo given
    "search:query": [Row("get", C.VIEW, 200, kwargs=query)],
    "search:photo": [Row("get", C.VIEW, 200, kwargs=query)],
    # 422: the fixture case has no search index ("add footage first").
    "search:choose": [Row("post", C.SEARCH, 422, kwargs=query)],
    "search:rerun": [Row("post", C.SEARCH, 422, kwargs=query)],
    "search:refine": [Row("post", C.SEARCH, 422, kwargs=query)],
    "search:add-photo": [Row("post", C.SEARCH, 400, kwargs=query)],  # 400: no photo given
    "search:extra-photo": [Row("get", C.VIEW, 200, kwargs=lambda w: {**query(w), "n": 0})],
    "search:report": [Row("get", C.EXPORT, 200, kwargs=query)],
    "search:export": [
        Row("get", C.EXPORT, 200, kwargs=lambda w: {**query(w), "fmt": "csv"}),
        Row("get", C.EXPORT, 200, kwargs=lambda w: {**query(w), "fmt": "json"}),
    ],
    "search:verdict": [Row("post", C.REVIEW, 200, data={"verdict": "confirmed"}, kwargs=hit)],
    "search:thumb": [Row("get", C.VIEW, 200, kwargs=hit)],
    # 202: the export job that cuts the clip is queued (no worker runs here).
    "search:clip": [Row("post", C.EXPORT, 202, kwargs=hit)],
    "search:clip-status": [Row("get", C.EXPORT, 200, kwargs=clip_job)],
    "search:clip-file": [Row("get", C.EXPORT, 200, kwargs=clip_job)],
    "login": [Row("get", LOGIN, 200, anon=200, kwargs=lambda w: {})],
    "logout": [Row("post", LOGIN, 302, anon=302, kwargs=lambda w: {})],
    # Django's admin: every page is staff-only; its index and the read-only audit log stand for all of them.
    "admin:*": [
        Row("get", STAFF, 200, anon=302, kwargs=lambda w: {"path": "/admin/"}),
        Row("get", STAFF, 200, anon=302, kwargs=lambda w: {"path": "/admin/audit/auditevent/"}),
    ],
}


def route_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[Any], namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    names.add("admin:*")
                    continue
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern):
                assert pattern.name, f"unnamed route {pattern.pattern}: name it and add a row"
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns, "")
    return names


def test_every_route_has_a_row() -> None:
    assert route_names() == set(TABLE)


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 2-second H.264 file: the stream and the evidence clip are cut from it."""
    from media_samples import tiny_video_bytes

    path = tmp_path_factory.mktemp("video") / "tiny.mp4"
    path.write_bytes(tiny_video_bytes())
    return path


@pytest.fixture
def world(case: Any, make_user: Any, tiny_video: Path) -> dict[str, Any]:
    from datetime import timedelta

    from django.core.files.base import ContentFile

    from webapp.cases import services as cases
    from webapp.footage import services as footage
    from webapp.footage.models import Snapshot
    from webapp.jobs.models import Job, JobKind, JobStatus
    from webapp.search import clip_cut
    from webapp.search.models import Hit, Query

    users = {
        "owner": case.owner,
        "outsider": make_user(),
        "staff": make_user(is_staff=True, is_superuser=True),
    }
    for role in ("viewer", "editor"):
        users[role] = make_user()
        cases.add_member(case=case, user=users[role], role=role, actor=case.owner)
    make_user("spare")
    vid = ready_video(case)
    folder = Path(vid.original.path).parent
    track = sample_track(vid)
    track.thumbnail.save("t.jpg", ContentFile(jpeg()))
    snapshot = Snapshot.objects.create(track=track, ordinal=0, frame=5, t=0.5, box=[10, 10, 30, 80])
    snapshot.crop.save("c.jpg", ContentFile(jpeg()))
    q = Query(case=case, created_by=case.owner, photo_sha256="ab" * 32, params={"box": None})
    q.photo.save("p.jpg", ContentFile(jpeg()), save=False)
    # A second photo of the same person: the query's own file stands for it (the table is about access).
    q.params["more_photos"] = [{"sha256": "cd" * 32, "width": 8, "height": 8, "file": q.photo.name}]
    q.save()
    h = Hit.objects.create(query=q, track=track, score=0.8, rank=1, start_s=0.2, end_s=1.5)
    # A finished export job and its clip file (the tiny video stands for the cut: the table is about access).
    clip_file = folder / "exports" / "clip-fixture.mp4"
    clip_file.parent.mkdir(parents=True)
    shutil.copy(tiny_video, clip_file)
    made = clip_cut.Clip(clip_file, clip_cut.sha256_file(clip_file), clip_file.stat().st_size, 0.2, 1.5, 14)
    clip_job = Job.objects.create(
        case=case,
        kind=JobKind.EXPORT,
        status=JobStatus.DONE,
        video=vid,
        params={"clip": {"video": vid.pk, "hit": h.pk, "query": q.pk}, "result": clip_cut.clip_record(made)},
    )
    new = cases.create_share_link(case=case, actor=case.owner, role="viewer", expires_in=timedelta(days=1))
    store = footage.upload_store()
    uploads = {
        role: store.create(case_id=case.pk, user_id=users[role].pk, length=100, metadata={}).id
        for role in ("viewer", "editor", "owner")
    }
    return {
        "case": case,
        "users": users,
        "video": vid,
        "query": q,
        "hit": h,
        "link": new.link,
        "token": new.token,
        "uploads": uploads,
        "crop": snapshot.crop.name,
        "clip_job": clip_job,
        "clip_file": str(clip_file.relative_to(settings.MEDIA_ROOT)),
        "queued_job": Job.objects.create(case=case, kind=JobKind.SELFCHECK),
        "failed_job": Job.objects.create(
            case=case,
            kind=JobKind.SELFCHECK,
            status=JobStatus.FAILED,
            params={"task": "webapp.jobs.tasks.selfcheck_task"},
        ),
    }


CELLS = [(name, i, role) for name, rows in TABLE.items() for i in range(len(rows)) for role in ROLES]


@pytest.mark.parametrize(("name", "index", "role"), CELLS, ids=[f"{n}[{i}]-{r}" for n, i, r in CELLS])
def test_route_answers_each_role_as_designed(
    client: Any, world: dict[str, Any], name: str, index: int, role: str
) -> None:
    from django.urls import reverse

    row = TABLE[name][index]
    kwargs = row.kwargs({**world, "role": role})
    url = kwargs.pop("path") if "path" in kwargs else reverse(name, kwargs=kwargs)
    if role != "anonymous":
        client.force_login(world["users"][role])
    response = getattr(client, row.method)(url, row.data, **row.headers)
    assert response.status_code == row.expected(role), (name, role, response.content[:300])
    if response.status_code == 302 and role == "anonymous" and name not in ("logout",):
        assert response["Location"].startswith(("/accounts/login/", "/admin/login/"))


@pytest.mark.parametrize("role", ROLES)
def test_media_is_never_served_directly(client: Any, world: dict[str, Any], role: str) -> None:
    """Originals, renditions, posters, crops, thumbnails, query photos and exports exist on disk but have no
    URL of their own: only the views above, after authorize(), hand them out."""
    if role != "anonymous":
        client.force_login(world["users"][role])
    names = [
        world["video"].original.name,
        world["video"].poster.name,
        world["crop"],
        world["hit"].track.thumbnail.name,
        world["query"].photo.name,
        world["clip_file"],
    ]
    for name in names:
        assert (Path(settings.MEDIA_ROOT) / name).exists()
        assert client.get(f"/{settings.MEDIA_URL}{name}").status_code == 404


# --- the websocket ----------------------------------------------------------------------------------------

WS_TABLE = {"ws/cases/<int:case_id>/": C.VIEW}  # joins the case's job-event group


def test_every_websocket_route_has_a_row() -> None:
    from webapp.routing import websocket_urlpatterns

    assert {str(p.pattern) for p in websocket_urlpatterns} == set(WS_TABLE)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_case_websocket_answers_each_role_as_designed(
    live_stack: dict[str, Any], case: Any, make_user: Any
) -> None:
    """Through the real daphne: members get the hello and join the group; everyone else is closed with 4404
    (the same code as for a case that does not exist)."""
    from live_services import CaseSocket, session_cookie
    from websockets.exceptions import ConnectionClosed

    from webapp.cases import services as cases

    users: dict[str, Any] = {"anonymous": None, "owner": case.owner, "outsider": make_user()}
    users["staff"] = make_user(is_staff=True, is_superuser=True)
    for role in ("viewer", "editor"):
        users[role] = make_user()
        cases.add_member(case=case, user=users[role], role=role, actor=case.owner)
    outcomes = {}
    for role in ROLES:
        user = users[role]
        sock = CaseSocket(live_stack["url"], case.pk, session_cookie(user) if user else None)
        try:
            outcomes[role] = sock.receive(timeout=10)["type"]
        except ConnectionClosed as closed:
            outcomes[role] = closed.rcvd.code if closed.rcvd else None
        finally:
            sock.close()
    need = WS_TABLE["ws/cases/<int:case_id>/"]
    assert outcomes == {role: "hello" if role in GRANTS and need in GRANTS[role] else 4404 for role in ROLES}
