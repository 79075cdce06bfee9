"""The system check job: proves, on the worker that runs it, that the pieces a real job needs work.

Stages: database (read the case's rows), storage (write, fsync, read back and hash a file under the media
root), models (the worker's engine, loaded once per process), inference (detect people and embed a crop on a
generated image; the embedding must be finite and unit length).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import numpy as np
from django.conf import settings

from webapp import engine as engine_access
from webapp.jobs.models import Job
from webapp.jobs.services import JobError, Reporter

WEIGHTS = {"database": 0.1, "storage": 0.1, "models": 0.4, "inference": 0.4}


def run_selfcheck(job: Job, reporter: Reporter) -> None:
    results: dict[str, object] = {}

    reporter.stage("database", total=3)
    results["videos"] = job.case.videos.count()
    reporter.progress(done=1)
    results["jobs"] = Job.objects.filter(case_id=job.case_id).count()
    reporter.progress(done=2)
    results["members"] = job.case.memberships.count()
    reporter.progress(done=3)

    reporter.stage("storage", total=1)
    results["storage_bytes"] = _check_storage(job.case_id)
    reporter.progress(done=1)

    reporter.stage("models", total=1)
    eng = engine_access.get_engine()
    pack = eng.pack
    results["pack"] = pack.name if pack is not None else "custom"
    results["appearance_only"] = bool(pack.appearance_only) if pack is not None else None
    results["engine_load_s"] = engine_access.load_seconds()
    reporter.progress(done=1)

    reporter.stage("inference", total=2)
    image = _test_image()
    results["people_in_test_image"] = len(eng.find_people(image))
    reporter.progress(done=1)
    vector = np.asarray(eng.embedder.embed([image[40:200, 60:140]])[0], dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    if not np.all(np.isfinite(vector)) or abs(norm - 1.0) > 1e-3:
        raise JobError(f"The embedding model returned a bad vector (norm {norm:.3f}). Reinstall the models.")
    results["embedding_dim"] = int(vector.shape[0])
    reporter.progress(done=2)

    job.params = {**job.params, "results": results}
    job.save(update_fields=["params", "updated_at"])


def _check_storage(case_id: int) -> int:
    folder = Path(settings.MEDIA_ROOT) / "cases" / str(case_id) / "selfcheck"
    folder.mkdir(parents=True, exist_ok=True)
    payload = secrets.token_bytes(256 * 1024)
    path = folder / f"probe-{os.getpid()}.bin"
    try:
        with path.open("wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if hashlib.sha256(path.read_bytes()).digest() != hashlib.sha256(payload).digest():
            raise JobError(
                f"The media folder returned different bytes than were written: check the disk ({folder})."
            )
        return len(payload)
    except OSError as exc:
        raise JobError(
            f"Cannot write to the media folder ({exc.strerror}). Check SIGHTLINE_MEDIA_ROOT."
        ) from exc
    finally:
        path.unlink(missing_ok=True)


def _test_image() -> np.ndarray:
    """A 240x320 BGR image: a smooth background with a dark upright figure-like block."""
    ys, xs = np.mgrid[0:240, 0:320]
    image = np.stack([(xs * 0.7) % 256, (ys * 0.9) % 256, ((xs + ys) * 0.4) % 256], axis=-1).astype(np.uint8)
    image[60:200, 90:120] = (40, 40, 120)
    image[40:62, 95:115] = (150, 170, 200)
    return image
