"""Evaluation: moment retrieval on MOT-labelled footage (eval-video) and Market-1501 mAP/CMC (eval-reid)."""
