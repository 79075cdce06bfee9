"""Create the first admin account once: from SIGHTLINE_ADMIN_USER / SIGHTLINE_ADMIN_PASSWORD, or with a
generated password that is printed (only on creation; it is never stored in clear)."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin account if no superuser exists yet."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("admin account: already set up (reset with: manage.py changepassword)")
            return
        username = os.environ.get("SIGHTLINE_ADMIN_USER", "admin")
        password = os.environ.get("SIGHTLINE_ADMIN_PASSWORD", "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        shown = password if generated else "(from SIGHTLINE_ADMIN_PASSWORD)"
        self.stdout.write(self.style.SUCCESS(f"admin account created: user {username!r}, password {shown}"))
