"""Fixtures of the security tests: websockets opened with a chosen origin, closed after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from sockets import open_socket


@pytest.fixture
def ws_open() -> Iterator[Callable[..., Any]]:
    with ExitStack() as stack:

        def open_(base_url: str, case_id: int, cookie: str | None, origin: str | None = None) -> Any:
            return stack.enter_context(open_socket(base_url, case_id, cookie, origin))

        yield open_
