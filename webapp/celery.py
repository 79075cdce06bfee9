"""The Celery app: Redis (or, embedded, filesystem) broker, two queues, late acks, prefetch 1.

Engine models are loaded once per worker process after the fork (worker_process_init), never at import, so
the web server never pays for them and every pool child gets its own onnxruntime sessions.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
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


@signals.worker_init.connect
def _prepare_broker_folders(**_: Any) -> None:
    """The filesystem transport (embedded mode) needs its folders to exist before it polls them."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder"):
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@signals.worker_process_init.connect
def _load_engine_in_worker_process(**_: Any) -> None:
    """Sent in each prefork child after the fork, and once by the solo pool."""
    from webapp import engine

    engine.preload()
