"""Similarity scores in words a non-specialist can read, next to the raw value.

The words say how similar the person looks, not how likely it is the same person: on the PETS 2009 S2L1
clip with the accurate pack (OSNet x0.25), tracks of the query's person score 0.51 to 0.83 (median 0.68)
while other people score up to 0.83 too (median 0.45, 90th percentile 0.61), since many wear similar dark
clothes. No threshold separates them there, so no band may claim "very likely"; what does hold (and
tests/webapp/search/test_score_bands.py checks it on the clip) is that nearly all of the person's tracks are
at least "somewhat similar" and that the share of the person's tracks grows band by band.

A raw cosine similarity means different things for different embedders, so the bands are per pack. The
appearance-only default pack's bands are set higher (its scores sit higher for everyone) but were not
measured on labelled footage: the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bands:
    very_similar: float
    similar: float
    somewhat_similar: float


# Trained person re-identification (OSNet, accurate pack), read off PETS as above.
REID_BANDS = Bands(very_similar=0.75, similar=0.65, somewhat_similar=0.55)
# Appearance-only default pack (ImageNet features + colour): not calibrated on labelled footage.
APPEARANCE_BANDS = Bands(very_similar=0.9, similar=0.85, somewhat_similar=0.8)

LABELS = {
    "very_similar": "Looks very similar",
    "similar": "Looks similar",
    "somewhat_similar": "Looks somewhat similar",
    "not_similar": "Looks different",
}


def bands_for(appearance_only: bool) -> Bands:
    return APPEARANCE_BANDS if appearance_only else REID_BANDS


def band(score: float, bands: Bands) -> str:
    if score >= bands.very_similar:
        return "very_similar"
    if score >= bands.similar:
        return "similar"
    if score >= bands.somewhat_similar:
        return "somewhat_similar"
    return "not_similar"


def describe(score: float, appearance_only: bool) -> dict[str, object]:
    key = band(score, bands_for(appearance_only))
    return {"score": round(score, 4), "band": key, "words": LABELS[key]}
