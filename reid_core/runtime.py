"""One place that opens model runtimes the same way for every adapter: ONNX Runtime sessions, and
OpenVINO for the models whose manifest entry says runtime = "openvino"."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from reid_core.types import ReidError

ENV_OPENVINO_PRECISION = "REID_OPENVINO_PRECISION"


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


class Runner(Protocol):
    """One model's forward pass: an input tensor in, its first output out."""

    def __call__(self, blob: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...


class _OnnxRunner:
    def __init__(self, path: Path, input_name: str, threads: int | None) -> None:
        self._session = session(path, threads)
        self._input = input_name

    def __call__(self, blob: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(self._session.run(None, {self._input: blob})[0], dtype=np.float32)


class _OpenVinoRunner:
    """OpenVINO IR on the CPU, the batch axis made dynamic so crops can be embedded together."""

    def __init__(self, path: Path, input_name: str, threads: int | None, dynamic_batch: bool) -> None:
        import openvino as ov  # imported here: only IR models need it

        try:
            core = ov.Core()
            model = core.read_model(str(path))
            if dynamic_batch:
                shape = model.input(input_name).get_partial_shape()
                shape[0] = -1
                model.reshape({input_name: shape})
            config: dict[str, Any] = {"INFERENCE_NUM_THREADS": threads or os.cpu_count() or 1}
            # "auto": OpenVINO runs bfloat16 where the CPU has it: 3.4x faster for 0277 here with the same
            # accuracy (WILDTRACK crops mAP 0.512 either way, bench/embedder_bench.py); "f32" gives
            # bit-for-bit the same vectors on every CPU (docs/models.md).
            precision = os.environ.get(ENV_OPENVINO_PRECISION, "auto")
            if precision != "auto":
                config["INFERENCE_PRECISION_HINT"] = precision
            self._compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # OpenVINO raises its own untyped exceptions
            raise ReidError(f"{path}: cannot load OpenVINO model ({exc})") from exc
        self._output = self._compiled.outputs[0]

    def __call__(self, blob: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(self._compiled(blob)[self._output], dtype=np.float32)


def runner(
    path: Path, runtime: str, input_name: str, threads: int | None = None, *, dynamic_batch: bool = False
) -> Runner:
    """A forward pass for the model file with the runtime its manifest names."""
    if runtime == "openvino":
        return _OpenVinoRunner(path, input_name, threads, dynamic_batch)
    return _OnnxRunner(path, input_name, threads)
