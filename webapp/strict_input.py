"""Strict input: text with control characters is refused before any view sees it, and JSON bodies are read
in one place.

A NUL byte cannot be stored in PostgreSQL text (the request failed with a database error), and other
control characters (escape sequences, backspaces) in names and labels forge what the pages, exports and
terminals show. So every query-string and form value, every form field name and every uploaded file's
name is checked here, once, for all views: tab, line feed and carriage return are allowed in values (text
areas), nothing else below U+0020, DEL or the C1 range. File names and other one-line names allow none of
them (`one_line`). Header-borne text (tus metadata) goes through the same functions in its parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


class TextRefused(BadRequest):
    """Text with control characters; Django answers 400."""


def check_text(value: str, what: str = "A field") -> str:
    if _CONTROL.search(value):
        raise TextRefused(f"{what} contains control characters (such as NUL); remove them and try again.")
    return value


def one_line(value: str, what: str = "A name") -> str:
    """A file name or label: no control character at all, line breaks and tabs included."""
    if _CONTROL_ONE_LINE.search(value):
        raise TextRefused(f"{what} contains control characters or line breaks; remove them and try again.")
    return value


def ascii_int(value: str) -> int | None:
    """A whole number written with ASCII digits only, or None. str.isdigit() accepts '²' and other digits
    int() refuses, and a header must not be read differently by two parsers."""
    return int(value) if _ASCII_DIGITS.fullmatch(value) else None


def json_object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object; anything else (not JSON, a list, bad UTF-8) is a 400."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The request body is not JSON.") from exc
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    _check_json(body)
    return body


def _check_json(value: Any) -> None:
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            _check_json(item)
    elif isinstance(value, list):
        for item in value:
            _check_json(item)


class StrictInputMiddleware:
    """400 for any query-string or form value, field name or uploaded file name with control characters."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            self._check(request)
        except TextRefused as exc:
            return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _check(request: HttpRequest) -> None:
        # request.POST parses only form bodies (urlencoded, multipart) and only for POST: a tus PATCH body
        # or a JSON body is not read here.
        for data in (request.GET, request.POST):
            for key, values in data.lists():
                one_line(key, "A field name")
                for value in values:
                    check_text(value)
        for uploads in request.FILES.lists():
            for upload in uploads[1]:
                one_line(upload.name or "", "A file name")
