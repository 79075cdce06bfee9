"""Export a torchreid-style OSNet checkpoint to ONNX with a dynamic batch axis, plus a side-car manifest.

    pip install torch            # needed by this tool only; the product runs ONNX with onnxruntime
    python scripts/export_reid_onnx.py CHECKPOINT.pth --arch osnet_x0_25 --out MODELS_DIR/my_reid.onnx \\
        [--name my_reid] [--check-against SHIPPED.onnx --images CROP.jpg ...]

Writes MODELS_DIR/my_reid.onnx (input `images` [batch,3,256,128] RGB, /255, ImageNet mean/std; output
`features` [batch,dim]) and adds an entry to MODELS_DIR/models.toml, so that with MODELS_DIR in
REID_MODELS_DIRS the product finds the model by name (docs/models.md, "Plug-in models").

Architectures: the torchreid OSNet family (osnet_x1_0, osnet_x0_75, osnet_x0_5, osnet_x0_25), written out
below from torchreid's published design (MIT) so that no package or weight download is needed. A checkpoint
is a plain state_dict or a dict holding one under "state_dict" (torchreid's own checkpoints); "module."
prefixes are removed. The classifier is dropped: ReID features are the 512-d embedding layer's output.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

try:
    import torch
    from torch import nn
except ImportError:  # torch is not a product dependency
    sys.exit("export_reid_onnx needs PyTorch: pip install torch   (CPU build is enough)")

CHANNELS = {
    "osnet_x1_0": (64, 256, 384, 512),
    "osnet_x0_75": (48, 192, 288, 384),
    "osnet_x0_5": (32, 128, 192, 256),
    "osnet_x0_25": (16, 64, 96, 128),
}
HEIGHT, WIDTH = 256, 128
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------- OSNet (Zhou et al., 2019), torchreid layout


class ConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Conv1x1(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Conv1x1Linear(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class LightConv3x3(nn.Module):
    """1x1 pointwise then 3x3 depthwise convolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False, groups=cout)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv2(self.conv1(x))))


class ChannelGate(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=True)
        self.gate_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.gate_activation(self.fc2(self.relu(self.fc1(self.global_avgpool(x)))))
        return x * g


class OSBlock(nn.Module):
    """Omni-scale block: four streams of 1 to 4 light 3x3 convolutions, fused by a shared channel gate."""

    def __init__(self, cin: int, cout: int, bottleneck_reduction: int = 4) -> None:
        super().__init__()
        mid = cout // bottleneck_reduction
        self.conv1 = Conv1x1(cin, mid)
        self.conv2a = LightConv3x3(mid, mid)
        self.conv2b = nn.Sequential(*(LightConv3x3(mid, mid) for _ in range(2)))
        self.conv2c = nn.Sequential(*(LightConv3x3(mid, mid) for _ in range(3)))
        self.conv2d = nn.Sequential(*(LightConv3x3(mid, mid) for _ in range(4)))
        self.gate = ChannelGate(mid)
        self.conv3 = Conv1x1Linear(mid, cout)
        self.downsample = Conv1x1Linear(cin, cout) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.conv1(x)
        x2 = self.gate(self.conv2a(x1)) + self.gate(self.conv2b(x1))
        x2 = x2 + self.gate(self.conv2c(x1)) + self.gate(self.conv2d(x1))
        identity = self.downsample(x) if self.downsample is not None else x
        return torch.relu(self.conv3(x2) + identity)


def _stage(cin: int, cout: int, reduce: bool) -> nn.Sequential:
    layers: list[nn.Module] = [OSBlock(cin, cout), OSBlock(cout, cout)]
    if reduce:
        layers.append(nn.Sequential(Conv1x1(cout, cout), nn.AvgPool2d(2, stride=2)))
    return nn.Sequential(*layers)


class OSNet(nn.Module):
    """Eval-mode torchreid OSNet: returns the embedding (fc) output, before the classifier."""

    def __init__(self, channels: tuple[int, int, int, int], feature_dim: int = 512) -> None:
        super().__init__()
        c0, c1, c2, c3 = channels
        self.conv1 = ConvLayer(3, c0, 7, stride=2, padding=3)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = _stage(c0, c1, reduce=True)
        self.conv3 = _stage(c1, c2, reduce=True)
        self.conv4 = _stage(c2, c3, reduce=False)
        self.conv5 = Conv1x1(c3, c3)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(c3, feature_dim), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv5(self.conv4(self.conv3(self.conv2(self.maxpool(self.conv1(x))))))
        return self.fc(torch.flatten(self.global_avgpool(x), 1))


# ---------------------------------------------------------------- export


def load_checkpoint(path: Path, model: nn.Module) -> None:
    raw: Any = torch.load(path, map_location="cpu", weights_only=True)
    state = raw.get("state_dict", raw) if isinstance(raw, dict) else raw
    if not isinstance(state, dict):
        sys.exit(f"{path}: not a state_dict checkpoint")
    state = OrderedDict(
        (k.removeprefix("module."), v) for k, v in state.items() if not k.startswith("classifier.")
    )
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # tensor shapes differ: another width of OSNet, or another network
        sys.exit(f"{path} does not fit this architecture (try another --arch):\n{str(exc)[:600]}")
    if missing or unexpected:
        sys.exit(
            f"{path} does not fit this architecture:\n  missing {missing[:8]}"
            f"{' ...' if len(missing) > 8 else ''}\n  unexpected {unexpected[:8]}"
            f"{' ...' if len(unexpected) > 8 else ''}"
        )


def crops_tensor(images: list[Path]) -> torch.Tensor:
    import numpy as np
    from PIL import Image

    batch = []
    for p in images:
        rgb = np.asarray(
            Image.open(p).convert("RGB").resize((WIDTH, HEIGHT), Image.BILINEAR), dtype=np.float32
        )
        batch.append(((rgb / 255.0 - np.array(MEAN)) / np.array(STD)).transpose(2, 0, 1))
    return torch.from_numpy(np.stack(batch).astype(np.float32))


def sidecar_entry(name: str, file: str, sha: str, dim: int, arch: str, source: str) -> str:
    return f"""
[[model]]
name = "{name}"
task = "embedder"
family = "osnet"
file = "{file}"
sha256 = "{sha}"
licence = "set me: the licence of the weights in {source}"
urls = []
source = "{arch} exported from {source} by scripts/export_reid_onnx.py"
pack = "plugin"
outputs = "features [batch,{dim}] float32, not normalised"
dim = {dim}
batch = "dynamic"
appearance_only = false

[model.preprocess]
input_name = "images"
width = {WIDTH}
height = {HEIGHT}
layout = "NCHW"
channel_order = "RGB"
scale = 0.00392156862745098
mean = [{", ".join(map(str, MEAN))}]
std = [{", ".join(map(str, STD))}]
letterbox = false
pad_value = 0.0
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--arch", choices=sorted(CHANNELS), default="osnet_x0_25")
    ap.add_argument("--out", type=Path, required=True, help="ONNX file to write (in a models dir)")
    ap.add_argument("--name", help="model name for the side-car manifest (default: the file's stem)")
    ap.add_argument("--no-sidecar", action="store_true", help="do not add an entry to <out dir>/models.toml")
    ap.add_argument("--check-against", type=Path, help="an ONNX export of the same weights to compare with")
    ap.add_argument("--images", type=Path, nargs="*", default=[], help="person crops for the checks")
    ap.add_argument("--opset", type=int, default=13)
    args = ap.parse_args()

    model = OSNet(CHANNELS[args.arch]).eval()
    load_checkpoint(args.checkpoint, model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, 3, HEIGHT, WIDTH)
    torch.onnx.export(
        model,
        (dummy,),
        str(args.out),
        input_names=["images"],
        output_names=["features"],
        dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
        opset_version=args.opset,
        dynamo=False,
    )
    sha = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} sha256 {sha}")

    import numpy as np
    import onnxruntime as ort

    x = crops_tensor(args.images) if args.images else torch.randn(4, 3, HEIGHT, WIDTH)
    with torch.no_grad():
        ref = model(x).numpy()
    ours = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"])
    got = ours.run(None, {"images": x.numpy()})[0]
    print(
        f"ONNX vs torch on {len(x)} {'crops' if args.images else 'random inputs'} (one batch): "
        f"max abs diff {np.abs(got - ref).max():.2e}"
    )
    if args.check_against:
        other = ort.InferenceSession(str(args.check_against), providers=["CPUExecutionProvider"])
        name = other.get_inputs()[0].name
        theirs = np.concatenate([other.run(None, {name: x[i : i + 1].numpy()})[0] for i in range(len(x))])
        diff = float(np.abs(got - theirs).max())
        print(
            f"ONNX vs {args.check_against.name} (batch of 1 each): max abs diff {diff:.2e} "
            f"(feature magnitude up to {np.abs(theirs).max():.2f})"
        )
        if diff > 1e-4:
            sys.exit(f"the export disagrees with {args.check_against.name} by {diff:.2e} > 1e-4")

    if not args.no_sidecar:
        sidecar = args.out.parent / "models.toml"
        name = args.name or args.out.stem
        text = sidecar.read_text(encoding="utf-8") if sidecar.exists() else ""
        if f'name = "{name}"' in text:
            print(f"{sidecar} already has a model named {name!r}: update its sha256 to {sha} by hand")
        else:
            entry = sidecar_entry(
                name, args.out.name, sha, int(got.shape[1]), args.arch, args.checkpoint.name
            )
            sidecar.write_text(text + entry, encoding="utf-8")
            print(f"added '{name}' to {sidecar}: set its licence; put {args.out.parent} in REID_MODELS_DIRS")


if __name__ == "__main__":
    main()
