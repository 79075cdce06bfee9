"""The Celery app: Redis (or, embedded, filesystem) broker, two queues, late acks, prefetch 1.

Engine models are loaded once per worker process after the fork (worker_process_init), never at import, so
the web server never pays for them and every pool child gets its own onnxruntime sessions.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, signals
from kombu.entity import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.dev")

logger = logging.getLogger(__name__)

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Ingestion (long, heavy) and search (short, interactive) have their own queues so a worker can be given
# to searches alone; tasks are routed by module in settings.CELERY_TASK_ROUTES.
app.conf.task_queues = tuple(Queue(name, Exchange(name), routing_key=name) for name in ("ingest", "search"))
app.autodiscover_tasks()


@signals.worker_process_init.connect
def _load_engine_in_worker_process(**_: Any) -> None:
    """Sent in each prefork child after the fork, and once by the solo pool."""
    from webapp import engine

    engine.preload()
