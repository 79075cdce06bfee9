"""The audit log is append-only in the ORM and, on PostgreSQL, in the database itself."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from webapp.audit import services
from webapp.audit.models import AppendOnlyError, AuditEvent


def test_events_cannot_be_changed_or_deleted_through_the_orm(case: Any) -> None:
    event = services.record(action="case.view", actor=case.owner, case=case, details={"why": "test"})
    event.action = "case.delete"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "case.view"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_the_database_refuses_updates_and_deletes(case: Any) -> None:
    event = services.record(action="case.view", actor=case.owner, case=case)
    for sql in (
        "UPDATE audit_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql, [event.pk])


def test_record_keeps_who_where_and_what(case: Any, rf: Any) -> None:
    request = rf.get("/", REMOTE_ADDR="192.0.2.7")
    request.user = case.owner
    event = services.record(action="search.run", request=request, case=case, target=case, details={"k": 5})
    assert (event.actor_id, event.actor_label, event.client_address) == (case.owner.pk, "olivia", "192.0.2.7")
    assert (event.case_id, event.case_label, event.target_type) == (case.pk, case.title, "case")
    assert event.details == {"k": 5}


def test_logins_and_failed_logins_are_recorded(client: Any, owner: Any) -> None:
    client.post("/accounts/login/", {"username": "olivia", "password": "wrong"})
    client.post("/accounts/login/", {"username": "olivia", "password": "a-long-test-password"})
    rows = list(AuditEvent.objects.order_by("id").values_list("action", "actor_label"))
    assert rows == [("auth.login_failed", "anonymous (olivia)"), ("auth.login", "olivia")]
