"""Finding 4: an unfinished upload is its uploader's alone (others get 404); the owner may cancel any."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def start_upload(client: Client, case_id: int) -> str:
    response = client.post(f"/cases/{case_id}/uploads/", **TUS, HTTP_UPLOAD_LENGTH="100")
    assert response.status_code == 201
    return str(response["Location"])


def test_other_members_cannot_touch_an_unfinished_upload(case: Any, member_of: Any) -> None:
    owner, editor = client_for(case.owner), client_for(member_of("editor"))
    other_editor = client_for(member_of("editor"))
    mine = start_upload(owner, case.pk)
    theirs = start_upload(other_editor, case.pk)
    for location in (mine, theirs):
        assert editor.head(location, **TUS).status_code == 404
        patch = editor.generic(
            "PATCH",
            location,
            b"x" * 10,
            content_type="application/offset+octet-stream",
            **TUS,
            HTTP_UPLOAD_OFFSET="0",
        )
        assert patch.status_code == 404
        assert editor.post(f"{location}/complete").status_code == 404
        assert editor.delete(location, **TUS).status_code == 404
    assert owner.head(mine, **TUS)["Upload-Offset"] == "0"
    assert other_editor.head(theirs, **TUS).status_code == 200
    # The owner sees no one else's upload but may cancel it.
    assert owner.head(theirs, **TUS).status_code == 404
    assert owner.delete(theirs, **TUS).status_code == 204
    assert other_editor.head(theirs, **TUS).status_code == 404
