"""Model manifest and lookup on the real model files: bundled, shared (accurate pack) and downloaded."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from reid_core.models import (
    APPEARANCE_MODELS,
    BUNDLED_DIR,
    SIDECAR_NAME,
    TRAINED_MODELS,
    ChecksumMismatchError,
    ManifestError,
    ModelDownloadError,
    ModelError,
    ModelNotFoundError,
    all_specs,
    choose_pack,
    list_models,
    load_manifest,
    resolve,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SIGHTLINE_SHARED_DIR", REPO.parent / "shared"))
SHARED_MODELS = SHARED / "models"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never read or fill the user's real download cache or models dirs from a test.
    monkeypatch.setenv("REID_MODELS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("REID_MODELS_DIRS", raising=False)
    monkeypatch.delenv("REID_EMBEDDER", raising=False)


def _sidecar(directory: Path, name: str, file: str, sha: str, urls: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    url_list = ", ".join(f'"{u}"' for u in urls)
    (directory / SIDECAR_NAME).write_text(
        f"""
[[model]]
name = "{name}"
task = "embedder"
family = "onnx_reid"
file = "{file}"
sha256 = "{sha}"
licence = "MIT"
urls = [{url_list}]
pack = "plugin"
outputs = "output [1,512], not normalised"
dim = 512
batch = "fixed"

[model.preprocess]
input_name = "images"
width = 128
height = 256
layout = "NCHW"
channel_order = "RGB"
scale = 0.00392156862745098
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]
letterbox = false
pad_value = 0.0
""",
        encoding="utf-8",
    )


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real HTTP server on 127.0.0.1 serving a folder (stands in for a remote host, unreachable here)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _shared_path(spec) -> Path:
    return SHARED_MODELS / ("omz" if spec.runtime == "openvino" else "") / spec.file


def test_every_manifest_model_resolves_verifies_and_runs() -> None:
    from reid_core.embed import ReidEmbedder

    specs = load_manifest()
    assert {s.name for s in specs} >= set(TRAINED_MODELS) | set(APPEARANCE_MODELS)
    assert SHARED_MODELS.is_dir(), f"plug-in models expected in {SHARED_MODELS} (SIGHTLINE_SHARED_DIR)"
    for spec in specs:
        resolved = resolve(spec.name, dirs=[SHARED_MODELS, SHARED_MODELS / "omz"])
        assert hashlib.sha256(resolved.path.read_bytes()).hexdigest() == spec.sha256
        # Bundled packs are found in the package unless a models dir holds the same file first.
        if spec.pack in ("trained", "appearance") and not _shared_path(spec).is_file():
            assert resolved.source == "bundled"
        else:
            assert resolved.source == "models_dir"
        if spec.runtime == "openvino":
            assert spec.weights is not None
            assert hashlib.sha256(resolved.path.with_name(spec.weights).read_bytes()).hexdigest() == (
                spec.weights_sha256
            )
            vecs = ReidEmbedder(resolved, threads=2).embed([np.zeros((200, 80, 3), np.uint8)] * 3)
            assert vecs.shape == (3, spec.dim) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
            continue
        sess = ort.InferenceSession(str(resolved.path), providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        pre = spec.preprocess
        assert inp.name == pre.input_name
        shape = [1, 3, pre.height, pre.width] if pre.layout == "NCHW" else [1, pre.height, pre.width, 3]
        assert list(inp.shape)[1:] == shape[1:]
        out = sess.run(None, {inp.name: np.zeros(shape, np.float32)})
        if spec.task == "embedder" and spec.family != "mobilenetv2_colour":
            assert out[0].shape == (1, spec.dim)


def test_listing_reports_where_found_and_checksum() -> None:
    status = {m.spec.name: m for m in list_models(dirs=[SHARED_MODELS, SHARED_MODELS / "omz"])}
    assert all(m.status == "ok" for m in status.values()), status
    assert status["yolox_nano"].source == "models_dir"  # a models dir comes before the bundled copy
    assert status["nanodet_g_416"].source == "bundled"
    bundled = {m.spec.name: m for m in list_models(dirs=[])}
    assert all(bundled[n].status == "ok" and bundled[n].source == "bundled" for n in TRAINED_MODELS)
    missing = {m.spec.name: m for m in list_models(dirs=[])}
    assert missing["osnet_x0_25_msmt17"].status == "missing"
    assert "raw.githubusercontent.com" in missing["osnet_x0_25_msmt17"].detail


def test_wrong_checksum_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "models"
    bad.mkdir()
    (bad / "yolox_nano.onnx").write_bytes(b"not the model")
    with pytest.raises(ChecksumMismatchError, match=r"yolox_nano.*sha256.*expects e8af0749") as err:
        resolve("yolox_nano", dirs=[bad])
    assert str(bad / "yolox_nano.onnx") in str(err.value)
    assert [m.status for m in list_models(dirs=[bad]) if m.spec.name == "yolox_nano"] == ["checksum_mismatch"]
    # auto falls back to the appearance pack and says why; asking for the trained pack raises.
    pack = choose_pack("auto", dirs=[bad])
    assert pack.name == "appearance" and pack.appearance_only and "sha256" in pack.reason
    with pytest.raises(ChecksumMismatchError):
        choose_pack("trained", dirs=[bad])


def test_wrong_weights_file_of_an_openvino_model_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "models"
    bad.mkdir()
    spec = next(s for s in load_manifest() if s.name == "omz_reid_0277")
    shutil.copy(BUNDLED_DIR / spec.file, bad / spec.file)
    assert spec.weights is not None
    (bad / spec.weights).write_bytes(b"truncated")
    with pytest.raises(ChecksumMismatchError, match=r"retail-0277\.bin has sha256"):
        resolve("omz_reid_0277", dirs=[bad])
    (bad / spec.weights).unlink()
    with pytest.raises(ChecksumMismatchError, match="is missing"):
        resolve("omz_reid_0277", dirs=[bad])


def test_trained_pack_ships_and_is_the_default() -> None:
    pack = choose_pack("auto", dirs=[])  # nothing but the package: a fresh offline machine
    assert (pack.name, pack.detector.spec.name, pack.embedder.spec.name) == ("trained", *TRAINED_MODELS)
    assert not pack.appearance_only and pack.detector.source == pack.embedder.source == "bundled"
    appearance = choose_pack("appearance", dirs=[])
    assert (appearance.detector.spec.name, appearance.embedder.spec.name) == APPEARANCE_MODELS
    assert appearance.appearance_only
    # Earlier names keep working: "accurate" is the trained pack now, "default" was the appearance pack.
    assert choose_pack("accurate", dirs=[]).name == "trained"
    assert choose_pack("default", dirs=[]).name == "appearance"


def test_missing_model_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"osnet_x0_25_msmt17.*REID_MODELS_DIRS.*https://"):
        resolve("osnet_x0_25_msmt17", dirs=[tmp_path])
    with pytest.raises(ModelNotFoundError, match="unknown model 'nope'"):
        resolve("nope", dirs=[])


def test_download_from_local_http_server_then_found(
    tmp_path: Path, http_dir: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = http_dir
    shutil.copy(SHARED_MODELS / "osnet_x0_25_msmt17.onnx", root / "reid.onnx")
    sha = hashlib.sha256((root / "reid.onnx").read_bytes()).hexdigest()
    models = tmp_path / "models"
    _sidecar(models, "my_reid", "reid.onnx", sha, [f"{base}/missing.onnx", f"{base}/reid.onnx"])
    with pytest.raises(ModelNotFoundError):
        resolve("my_reid", dirs=[models])  # download is opt-in
    got = resolve("my_reid", dirs=[models], download=True)  # first URL 404s, second works
    assert got.source == "downloaded" and got.path == models / "reid.onnx"
    assert resolve("my_reid", dirs=[models]).source == "models_dir"
    assert sorted(p.name for p in models.iterdir()) == [SIDECAR_NAME, "reid.onnx"]  # no partial files left
    # The plug-in model from the side-car can replace the pack's embedder.
    pack = choose_pack("appearance", dirs=[models], embedder="my_reid")
    assert pack.embedder.spec.name == "my_reid" and not pack.appearance_only
    monkeypatch.setenv("REID_EMBEDDER", "my_reid")  # the setting the CLI and web app go through
    assert choose_pack("auto", dirs=[models]).name == "trained+my_reid"
    monkeypatch.setenv("REID_EMBEDDER", "nanodet_g_416")
    with pytest.raises(ModelError, match="is a detector, not an embedder"):
        choose_pack("auto", dirs=[models])


def test_download_offline_or_corrupt_fails_cleanly(tmp_path: Path, http_dir: tuple[Path, str]) -> None:
    root, base = http_dir
    (root / "reid.onnx").write_bytes(b"truncated")
    with socket.socket() as s:  # a port nothing listens on: connection refused, like an offline machine
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    models = tmp_path / "models"
    urls = [f"http://127.0.0.1:{dead}/reid.onnx", f"{base}/reid.onnx"]
    _sidecar(models, "my_reid", "reid.onnx", "ab" * 32, urls)
    with pytest.raises(ModelDownloadError) as err:
        resolve("my_reid", dirs=[models], download=True)
    msg = str(err.value)
    assert f"127.0.0.1:{dead}" in msg and "refused" in msg.lower()
    assert "expected " + "ab" * 32 in msg and "REID_MODELS_DIRS" in msg
    assert sorted(p.name for p in models.iterdir()) == [SIDECAR_NAME]


def test_bad_sidecar_manifest_names_the_file(tmp_path: Path) -> None:
    models = tmp_path / "models"
    _sidecar(models, "my_reid", "reid.onnx", "xyz", [])
    with pytest.raises(ManifestError, match=r"models\.toml.*my_reid.*sha256"):
        all_specs([models])
    (models / SIDECAR_NAME).write_text("[[model]\nname=", encoding="utf-8")
    with pytest.raises(ManifestError, match="not valid TOML"):
        all_specs([models])
