"""One place that opens ONNX Runtime sessions the same way for every adapter."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnxruntime as ort

from reid_core.types import ReidError


def session(path: Path, threads: int | None = None) -> Any:
    """A CPU session; threads defaults to the machine's cores. Unloadable files raise ReidError."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads sleep instead of spinning: spinning burnt about half again the CPU per inference
    # on the shared 2-core machine, CPU that decoding (and other workers) needed.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise ReidError(f"{path}: cannot load ONNX model ({exc})") from exc
