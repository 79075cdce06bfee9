"""Property-based requests (hypothesis) against the JSON endpoints and the sharing forms: whatever a client
sends, the answer is never a server error. Bounded: a fixed number of examples per endpoint, no deadline
(the machine is shared)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media_samples import jpeg, results_fixture

BOUNDED = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
    database=None,  # nothing written into the working tree
)
text = st.text(max_size=80)
header = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
ids = st.one_of(st.integers(min_value=0, max_value=2**70), st.just(1))


@pytest.fixture
def owner_client(client: Any, case: Any) -> Any:
    client.force_login(case.owner)
    return client


def no_server_error(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:300])


@BOUNDED
@given(photo=st.one_of(st.binary(max_size=3000), st.just(jpeg())), box=text, point=text)
def test_search_start(owner_client: Any, case: Any, photo: bytes, box: str, point: str) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("p.jpg", photo, content_type="image/jpeg")
    no_server_error(
        owner_client.post(f"/cases/{case.pk}/search/", {"photo": upload, "box": box, "point": point})
    )


@pytest.fixture
def results(case: Any) -> tuple[Any, Any]:
    return results_fixture(case)


@BOUNDED
@given(
    verdict=text, body=st.builds(json.dumps, st.dictionaries(text, st.one_of(text, st.integers(), st.none())))
)
def test_search_verdict_and_query_actions(
    owner_client: Any, case: Any, results: tuple[Any, Any], verdict: str, body: str
) -> None:
    query, hit = results
    base = f"/cases/{case.pk}/search"
    no_server_error(owner_client.post(f"{base}/hits/{hit.pk}/verdict", {"verdict": verdict}))
    no_server_error(owner_client.post(f"{base}/hits/{hit.pk}/verdict", body, content_type="application/json"))
    for action in ("choose", "rerun", "refine"):
        no_server_error(owner_client.post(f"{base}/queries/{query.pk}/{action}", {"box": verdict}))


@settings(BOUNDED, report_multiple_bugs=False)
@given(body=st.binary(min_size=1, max_size=200))
def test_search_verdict_with_a_body_that_is_not_json(
    owner_client: Any, case: Any, results: tuple[Any, Any], body: bytes
) -> None:
    _, hit = results
    url = f"/cases/{case.pk}/search/hits/{hit.pk}/verdict"
    no_server_error(owner_client.post(url, body, content_type="application/json"))


@BOUNDED
@given(query_id=ids, hit_id=ids, fmt=st.text(alphabet="abcdefjnosv", max_size=6), qs=header)
def test_search_reads(owner_client: Any, case: Any, query_id: int, hit_id: int, fmt: str, qs: str) -> None:
    base = f"/cases/{case.pk}/search"
    for path in (
        f"{base}/?{qs}",
        f"{base}/queries/{query_id}/",
        f"{base}/queries/{query_id}/photo",
        f"{base}/queries/{query_id}/report",
        f"{base}/hits/{hit_id}/thumb",
        f"{base}/hits/{hit_id}/clip",
    ) + ((f"{base}/queries/{query_id}/hits.{fmt}",) if fmt else ()):
        no_server_error(owner_client.get(path))


@BOUNDED
@given(length=header, metadata=header, name=text, offset=header, body=st.binary(max_size=300))
def test_tus_uploads(
    owner_client: Any, case: Any, length: str, metadata: str, name: str, offset: str, body: bytes
) -> None:
    url = f"/cases/{case.pk}/uploads/"
    no_server_error(
        owner_client.post(
            url, HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH=length, HTTP_UPLOAD_METADATA=metadata
        )
    )
    meta = "filename " + base64.b64encode(name.encode()).decode()
    created = owner_client.post(
        url, HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH="64", HTTP_UPLOAD_METADATA=meta
    )
    no_server_error(created)
    if created.status_code == 201:
        location = created["Location"]
        no_server_error(
            owner_client.patch(
                location,
                body,
                content_type="application/offset+octet-stream",
                HTTP_TUS_RESUMABLE="1.0.0",
                HTTP_UPLOAD_OFFSET=offset,
            )
        )
        no_server_error(owner_client.head(location, HTTP_TUS_RESUMABLE="1.0.0"))
        no_server_error(owner_client.post(location + "/complete", {"camera_label": name}))
        no_server_error(owner_client.delete(location, HTTP_TUS_RESUMABLE="1.0.0"))


@BOUNDED
@given(video_id=ids, job_id=ids, camera=text)
def test_footage_and_jobs(owner_client: Any, case: Any, video_id: int, job_id: int, camera: str) -> None:
    for path in (f"/cases/{case.pk}/videos/{video_id}/stream", f"/cases/{case.pk}/videos/{video_id}/poster"):
        no_server_error(owner_client.get(path, HTTP_RANGE=f"bytes={camera}"))
    for path in (
        f"/cases/{case.pk}/videos/{video_id}/retry",
        f"/jobs/{job_id}/cancel/",
        f"/jobs/{job_id}/retry/",
    ):
        no_server_error(owner_client.post(path, {"camera_label": camera}))
    no_server_error(owner_client.get(f"/cases/{case.pk}/videos/"))
    no_server_error(owner_client.get(f"/cases/{case.pk}/jobs/"))


@BOUNDED
@given(identifier=text, role=text, days=text, label=text, user_id=header, token=header)
def test_sharing_forms(
    owner_client: Any, case: Any, identifier: str, role: str, days: str, label: str, user_id: str, token: str
) -> None:
    c = case.pk
    no_server_error(owner_client.post(f"/cases/{c}/members/", {"identifier": identifier, "role": role}))
    no_server_error(owner_client.post(f"/cases/{c}/links/", {"role": role, "days": days, "label": label}))
    no_server_error(owner_client.post(f"/cases/{c}/transfer", {"user_id": user_id}))
    no_server_error(owner_client.post(f"/cases/{c}/lock", {"locked": role}))
    no_server_error(owner_client.post(f"/cases/{c}/delete", {"confirm": label}))
    if token.strip("/") and "?" not in token and "#" not in token:
        no_server_error(owner_client.get(f"/share/{token.strip('/')}/"))


# --- every route, every kind of body ------------------------------------------------------------------------
# Each route of the app (the admin's excepted: Django's own) gets, from a signed-in case owner: any JSON value
# as a JSON body, bytes that are not JSON under a JSON content type, a form body, and a query string. The
# route list comes from the URL configuration, so a new endpoint is covered the day it is added.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=8,
)
EVERY_BODY = settings(BOUNDED, max_examples=12)
forms = st.dictionaries(text, text, max_size=4)
# Routes known to fail here, each with its reason (none now: search:choose reads its body through
# webapp.strict_input.json_object since issue 16).
NOT_YET: set[str] = set()
# Routes that sign the client out: what follows may redirect to the login page.
REDIRECTS = {"logout"}


def app_routes() -> list[tuple[str, str]]:
    from django.urls import URLPattern, URLResolver, get_resolver

    routes: list[tuple[str, str]] = []

    def walk(patterns: list[Any], namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace != "admin":
                    walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}:{pattern.name}" if namespace else str(pattern.name)
                routes.append((name, str(pattern.pattern)))

    walk(get_resolver().url_patterns, "")
    return sorted(routes)


@pytest.fixture
def every_id(case: Any, results: tuple[Any, Any], make_user: Any) -> dict[str, Any]:
    """A real object for each URL parameter, so that requests reach the views' input handling."""
    from datetime import timedelta

    from webapp.cases import services as cases
    from webapp.footage import services as footage
    from webapp.jobs.models import Job, JobKind

    query, hit = results
    member = make_user("spare")
    cases.add_member(case=case, user=member, role="viewer", actor=case.owner)
    link = cases.create_share_link(case=case, actor=case.owner, role="viewer", expires_in=timedelta(days=1))
    upload = footage.upload_store().create(case_id=case.pk, user_id=case.owner.pk, length=64, metadata={})
    job = Job.objects.create(case=case, kind=JobKind.EXPORT, video=hit.track.video)
    return {
        "case_id": case.pk,
        "user_id": member.pk,
        "link_id": link.link.pk,
        "token": link.token,
        "video_id": hit.track.video_id,
        "query_id": query.pk,
        "hit_id": hit.pk,
        "job_id": job.pk,
        "upload_id": upload.id,
        "fmt": "csv",
        "n": 0,  # a query's extra photo, by position
    }


def test_the_route_list_is_the_apps() -> None:
    names = {name for name, _ in app_routes()}
    assert {"search:verdict", "footage:details", "jobs:cancel", "cases:invite"} <= names and len(names) > 30
    assert names >= NOT_YET  # a stale exception would hide nothing but must go


@pytest.mark.parametrize("route", [name for name, _ in app_routes() if name not in NOT_YET])
@EVERY_BODY
@given(value=json_values, junk=st.binary(min_size=1, max_size=120), form=forms)
def test_every_route_with_any_body(
    client: Any,
    case: Any,
    every_id: dict[str, Any],
    route: str,
    value: Any,
    junk: bytes,
    form: dict[str, str],
) -> None:
    from django.urls import reverse

    params = re.findall(r"<(?:\w+:)?(\w+)>", dict(app_routes())[route])
    missing = [p for p in params if p not in every_id]
    assert not missing, f"{route}: add a real value for {missing} to the every_id fixture"
    url = reverse(route, kwargs={p: every_id[p] for p in params})
    client.force_login(case.owner)  # a previous example may have signed out (accounts/logout/)
    answers = [
        client.post(url, json.dumps(value, allow_nan=True), content_type="application/json"),
        client.post(url, junk, content_type="application/json"),
        client.post(url, form),
        client.get(url, form),
    ]
    for response in answers:
        no_server_error(response)
    # The requests reached the view: not a login redirect, not a route that did not match.
    # Each request reached this route's view, signed in (not a redirect to the login page).
    for response in answers:
        assert response.resolver_match is not None and response.resolver_match.view_name == route
        login = response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert route in REDIRECTS or not login, response["Location"]
