"""Delete footage older than the retention period, except in cases locked as evidence (cron-friendly)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from webapp.footage import retention


class Command(BaseCommand):
    help = (
        "Delete footage uploaded more than N days ago (default SIGHTLINE_RETENTION_DAYS) in unlocked cases."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override SIGHTLINE_RETENTION_DAYS")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else int(settings.SIGHTLINE_RETENTION_DAYS)
        if days <= 0:
            self.stdout.write("retention: off (set SIGHTLINE_RETENTION_DAYS or pass --days)")
            return
        try:
            result = retention.apply_retention(days=days)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"retention: deleted {result.videos} video(s) in {result.cases} case(s), older than {days} days"
        )
