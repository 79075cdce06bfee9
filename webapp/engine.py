"""One reid_core Engine per process, created on first use (or by the worker right after fork).

The web server never loads models; Celery worker processes call preload() from worker_process_init so the
first job does not pay for it. ONNX/OpenMP threads per process come from SIGHTLINE_ENGINE_THREADS, chosen
so that worker processes x threads <= cores.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from reid_core.pipeline import Engine

logger = logging.getLogger(__name__)


class EngineLoadError(RuntimeError):
    """The models could not be loaded; the message says what to check."""


_lock = threading.Lock()
_engine: Engine | None = None
_load_seconds: float | None = None


def _limit_native_threads(threads: int) -> None:
    # OpenMP (faiss) and BLAS read these once, when first loaded: set before importing the engine.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))


def get_engine() -> Engine:
    """The process's Engine, loading the configured model pack on first call."""
    global _engine, _load_seconds
    if _engine is not None:
        return _engine
    with _lock:
        if _engine is None:
            threads = int(settings.SIGHTLINE_ENGINE_THREADS)
            _limit_native_threads(threads)
            from reid_core.pipeline import Engine

            started = time.perf_counter()
            dirs = list(settings.REID_MODELS_DIRS) or None
            try:
                _engine = Engine.load(pack=settings.SIGHTLINE_MODEL_PACK, dirs=dirs, threads=threads)
            except Exception as exc:
                raise EngineLoadError(
                    f"The analysis models could not be loaded ({exc}). Check REID_MODELS_DIRS and "
                    f"SIGHTLINE_MODEL_PACK, or run scripts/setup.sh again."
                ) from exc
            _load_seconds = time.perf_counter() - started
            logger.info("engine loaded in %.2f s with %d thread(s)", _load_seconds, threads)
        return _engine


def load_seconds() -> float | None:
    """How long this process took to load its engine (None until loaded)."""
    return _load_seconds


def preload() -> None:
    """Load the engine now; a failure is logged, not raised, so the worker still starts and jobs report it."""
    if os.environ.get("SIGHTLINE_PRELOAD_ENGINE", "1") == "0":
        return
    try:
        get_engine()
    except Exception:
        logger.exception("could not load the engine; jobs that need it will fail with the reason")
