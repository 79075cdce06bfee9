"""Similarity scores in words a non-specialist can act on.

A raw cosine similarity means different things for different embedders, so the bands are per embedder.
The thresholds were read off the PETS 2009 S2L1 clip (tests/webapp/search/test_score_bands.py prints the
same-person and other-person score distributions it checks them against): "very likely" is above nearly
every other-person track, "unlikely" below nearly every same-person track.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bands:
    very_likely: float
    likely: float
    possible: float


# Trained person re-identification (OSNet, accurate pack).
REID_BANDS = Bands(very_likely=0.75, likely=0.65, possible=0.55)
# Appearance-only default pack (ImageNet features + colour): scores sit higher for everyone.
APPEARANCE_BANDS = Bands(very_likely=0.9, likely=0.85, possible=0.8)

LABELS = {
    "very_likely": "Very likely the same person",
    "likely": "Likely the same person",
    "possible": "Possibly the same person",
    "unlikely": "Unlikely to be the same person",
}


def bands_for(appearance_only: bool) -> Bands:
    return APPEARANCE_BANDS if appearance_only else REID_BANDS


def band(score: float, bands: Bands) -> str:
    if score >= bands.very_likely:
        return "very_likely"
    if score >= bands.likely:
        return "likely"
    if score >= bands.possible:
        return "possible"
    return "unlikely"


def describe(score: float, appearance_only: bool) -> dict[str, object]:
    key = band(score, bands_for(appearance_only))
    return {"score": round(score, 4), "band": key, "words": LABELS[key]}
