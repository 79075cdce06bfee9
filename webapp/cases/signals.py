"""Signals the cases app sends: apps above it (jobs, footage) act on a case without cases importing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by services.delete_case before any row goes, with case= and actor=: receivers stop the case's work
# (the jobs app asks its queued and running jobs to stop).
case_deleting = Signal()
