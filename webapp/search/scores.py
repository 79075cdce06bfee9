"""Similarity scores in words a non-specialist can read, next to the raw value.

A raw cosine similarity means different things for different embedders, so the bands come from the
embedder's manifest entry, calibrated on labelled pairs (same person vs different people, PETS09-S2L1 and
WILDTRACK across cameras) by bench/calibrate_bands.py: each band starts where the share of same-person
pairs among the pairs scoring that high reaches its level (0.9 for "Likely the same person", 0.5 and 0.2
for the next two). docs/models.md has the table. A band whose level the embedder never reaches is never
shown, and the appearance-only pack never says "same person": its top words stay "Looks very similar".
An embedder without calibration (a plug-in) gets the conservative bands below and the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Bands:
    very_similar: float
    similar: float
    somewhat_similar: float
    calibrated: bool = False


# Fallbacks for embedders without calibration: no "same person" claim at all.
REID_BANDS = Bands(very_similar=1.01, similar=0.65, somewhat_similar=0.55)
APPEARANCE_BANDS = Bands(very_similar=0.9, similar=0.85, somewhat_similar=0.8)

LABELS = {
    "very_similar": "Likely the same person",
    "similar": "Looks similar",
    "somewhat_similar": "Looks somewhat similar",
    "not_similar": "Looks different",
}
APPEARANCE_TOP_LABEL = "Looks very similar"


@lru_cache(maxsize=32)
def _calibrated(embedder: str) -> Bands | None:
    from django.conf import settings

    from reid_core.models import ModelError, get_spec

    try:
        spec = get_spec(embedder, list(settings.REID_MODELS_DIRS))
    except ModelError:
        return None
    if spec.bands is None:
        return None
    return Bands(spec.bands["very_similar"], spec.bands["similar"], spec.bands["somewhat_similar"], True)


def bands_for(models: Mapping[str, Any]) -> Bands:
    """The bands of the embedder an index was built with (models: what the index records)."""
    embedder = models.get("embedder")
    found = _calibrated(str(embedder)) if embedder else None
    if found is not None:
        return found
    return APPEARANCE_BANDS if models.get("appearance_only") else REID_BANDS


def band(score: float, bands: Bands) -> str:
    if score >= bands.very_similar:
        return "very_similar"
    if score >= bands.similar:
        return "similar"
    if score >= bands.somewhat_similar:
        return "somewhat_similar"
    return "not_similar"


def describe(score: float, models: Mapping[str, Any]) -> dict[str, object]:
    key = band(score, bands_for(models))
    words = LABELS[key]
    if key == "very_similar" and models.get("appearance_only"):
        words = APPEARANCE_TOP_LABEL
    return {"score": round(score, 4), "band": key, "words": words}
