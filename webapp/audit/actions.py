"""Every action the audit log records, in one place (AuditEvent.action holds the value)."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    # accounts and access
    LOGIN = "auth.login"
    LOGOUT = "auth.logout"
    LOGIN_FAILED = "auth.login_failed"
    LOCKED_OUT = "auth.locked_out"
    ACCESS_REFUSED = "access.refused"
    # cases, members, share links
    CASE_CREATE = "case.create"
    CASE_UPDATE = "case.update"
    CASE_DELETE = "case.delete"
    CASE_VIEW = "case.view"
    CASE_TRANSFER = "case.transfer"
    CASE_LOCK = "case.lock"
    CASE_UNLOCK = "case.unlock"
    MEMBER_ADD = "member.add"
    MEMBER_ROLE = "member.role"
    MEMBER_LEAVE = "member.leave"
    MEMBER_REMOVE = "member.remove"
    SHARE_CREATE = "share.create"
    SHARE_REVOKE = "share.revoke"
    SHARE_REDEEM = "share.redeem"
    SHARE_REDEEM_FAILED = "share.redeem_failed"
    # jobs
    JOB_START = "job.start"
    JOB_CANCEL = "job.cancel"
    JOB_RETRY = "job.retry"
    # footage
    VIDEO_UPLOAD = "video.upload"
    VIDEO_DETAILS = "video.details"
    VIDEO_DELETE = "video.delete"
    RETENTION_DELETE = "retention.delete"
    # search
    SEARCH_START = "search.start"
    SEARCH_CHOOSE_PERSON = "search.choose_person"
    SEARCH_RERUN = "search.rerun"
    SEARCH_REFINE = "search.refine"
    SEARCH_PHOTO_ADD = "search.photo.add"
    SEARCH_RESULTS_VIEW = "search.results.view"
    HIT_CONFIRMED = "search.hit.confirmed"
    HIT_REJECTED = "search.hit.rejected"
    HIT_CLEAR = "search.hit.clear"
    EXPORT_REPORT = "search.export.report"
    EXPORT_CSV = "search.export.csv"
    EXPORT_JSON = "search.export.json"
    EXPORT_CLIP = "search.export.clip"
