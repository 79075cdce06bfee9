"""Model manifest and lookup: models dirs -> bundled -> previous downloads -> download (sha256 checked).

The repo's manifest.toml lists the models the product knows. A user adds a model without editing the repo
by putting a side-car ``models.toml`` (same format) beside the model file in one of the REID_MODELS_DIRS.

Two packs ship in the package: ``trained`` (YOLOX-nano + Open Model Zoo person-reidentification-retail-0277,
trained person re-identification, chosen by measurement: docs/models.md) and ``appearance`` (NanoDet +
ImageNet MobileNetV2 with a colour histogram: appearance similarity only). ``auto`` takes the trained pack.

Its length is mostly the manifest's validation (every field checked, each error naming the file, the model
and the field), kept beside the lookup and the pack choice that use the same types.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

from reid_core.types import ReidError

PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = PACKAGE_DIR / "manifest.toml"
BUNDLED_DIR = PACKAGE_DIR / "bundled"
SIDECAR_NAME = "models.toml"
ENV_DIRS = "REID_MODELS_DIRS"
ENV_CACHE = "REID_MODELS_CACHE"
ENV_EMBEDDER = "REID_EMBEDDER"
TRAINED_MODELS = ("yolox_nano", "omz_reid_0277")
APPEARANCE_MODELS = ("nanodet_g_416", "mobilenetv2_colour")
PACK_MODELS = {"trained": TRAINED_MODELS, "appearance": APPEARANCE_MODELS}
# Names earlier releases used: "accurate" (YOLOX + OSNet x0.25, not bundled) is now the trained pack;
# "default" was the appearance-only pack.
PACK_ALIASES = {"accurate": "trained", "default": "appearance"}
DOWNLOAD_TIMEOUT_S = 30.0

Task = Literal["detector", "embedder"]
Source = Literal["models_dir", "bundled", "cache", "downloaded"]
PackName = Literal["auto", "trained", "appearance", "accurate", "default"]
PACK_CHOICES = ("auto", "trained", "appearance", "accurate", "default")
Runtime = Literal["onnxruntime", "openvino"]


class ModelError(ReidError):
    """A model could not be found, verified or fetched; the message says what to do."""


class ManifestError(ModelError):
    """A manifest (the repo's or a side-car) is malformed."""


class ModelNotFoundError(ModelError):
    pass


class ChecksumMismatchError(ModelError):
    pass


class ModelDownloadError(ModelError):
    pass


@dataclass(frozen=True)
class Preprocess:
    input_name: str
    width: int
    height: int
    layout: Literal["NCHW", "NHWC"]
    channel_order: Literal["RGB", "BGR"]
    scale: float  # pixel values (0..255) are multiplied by this before mean/std
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    letterbox: bool  # True: keep aspect ratio, image top-left; False: stretch to width x height
    pad_value: float


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: Task
    family: str  # "yolox" | "nanodet" | "osnet" | "mobilenetv2_colour" | "onnx_reid" | ...
    file: str
    sha256: str
    runtime: Runtime  # onnxruntime for .onnx files (the default); openvino for OpenVINO IR (.xml + .bin)
    weights: str | None  # OpenVINO IR: the .bin beside the .xml, verified like the main file
    weights_sha256: str | None
    licence: str
    urls: tuple[str, ...]
    source: str  # where the file comes from, in words (package, repository, conversion script)
    pack: str  # "default" | "accurate" | "plugin"
    preprocess: Preprocess
    outputs: str  # the output contract, in words
    dim: int | None
    batch: Literal["fixed", "dynamic"]
    appearance_only: bool  # True: appearance similarity, not a trained re-identification model
    manifest: Path  # the manifest that declared it
    # Similarity words for this embedder: thresholds read off labelled pairs by bench/calibrate_bands.py.
    bands: dict[str, float] | None = None
    bands_note: str = ""

    @property
    def files(self) -> tuple[tuple[str, str], ...]:
        """(file name, sha256) of every file the model needs."""
        if self.weights is None or self.weights_sha256 is None:
            return ((self.file, self.sha256),)
        return ((self.file, self.sha256), (self.weights, self.weights_sha256))


@dataclass(frozen=True)
class ResolvedModel:
    spec: ModelSpec
    path: Path
    source: Source


@dataclass(frozen=True)
class Pack:
    name: str  # "default" | "accurate" (or "accurate+<embedder>" / "default+<embedder>" with an override)
    detector: ResolvedModel
    embedder: ResolvedModel
    appearance_only: bool
    reason: str  # why this pack was chosen (e.g. why auto fell back to the default pack)


@dataclass(frozen=True)
class ModelStatus:
    spec: ModelSpec
    status: Literal["ok", "missing", "checksum_mismatch"]
    path: Path | None
    source: Source | None
    detail: str


# ---------------------------------------------------------------- manifest


def _req(entry: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in entry:
        raise ManifestError(f"{where}: missing key '{key}'")
    value = entry[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"{where}: '{key}' must be {kind.__name__}, got {value!r}")
    return value


def _triple(entry: dict[str, Any], key: str, where: str) -> tuple[float, float, float]:
    value = _req(entry, key, list, where)
    if len(value) != 3 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise ManifestError(f"{where}: '{key}' must be three numbers, got {value!r}")
    return (float(value[0]), float(value[1]), float(value[2]))


def _choice(entry: dict[str, Any], key: str, allowed: Iterable[str], where: str) -> str:
    value = cast(str, _req(entry, key, str, where))
    allowed = tuple(allowed)
    if value not in allowed:
        raise ManifestError(f"{where}: '{key}' must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _parse_preprocess(entry: dict[str, Any], where: str) -> Preprocess:
    where = f"{where} [preprocess]"
    return Preprocess(
        input_name=_req(entry, "input_name", str, where),
        width=_req(entry, "width", int, where),
        height=_req(entry, "height", int, where),
        layout=cast(Literal["NCHW", "NHWC"], _choice(entry, "layout", ("NCHW", "NHWC"), where)),
        channel_order=cast(Literal["RGB", "BGR"], _choice(entry, "channel_order", ("RGB", "BGR"), where)),
        scale=_req(entry, "scale", float, where),
        mean=_triple(entry, "mean", where),
        std=_triple(entry, "std", where),
        letterbox=_req(entry, "letterbox", bool, where),
        pad_value=_req(entry, "pad_value", float, where),
    )


def _sha(entry: dict[str, Any], key: str, where: str) -> str:
    sha = cast(str, _req(entry, key, str, where)).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ManifestError(f"{where}: '{key}' must be 64 hex digits (run: sha256sum FILE)")
    return sha


def _parse_spec(entry: dict[str, Any], manifest: Path, index: int) -> ModelSpec:
    where = f"{manifest} model #{index + 1}"
    if isinstance(entry.get("name"), str):
        where = f"{manifest} model '{entry['name']}'"
    sha = _sha(entry, "sha256", where)
    runtime = cast(
        Runtime, _choice({"runtime": "onnxruntime", **entry}, "runtime", ("onnxruntime", "openvino"), where)
    )
    weights = entry.get("weights")
    weights_sha = None
    if runtime == "openvino":
        if not isinstance(weights, str) or Path(weights).name != weights:
            raise ManifestError(
                f"{where}: an OpenVINO model needs 'weights', the plain name of its .bin file"
            )
        weights_sha = _sha(entry, "weights_sha256", where)
    elif weights is not None:
        raise ManifestError(f"{where}: 'weights' is only for OpenVINO IR models (runtime = \"openvino\")")
    bands = entry.get("bands")
    if bands is not None:
        keys = ("very_similar", "similar", "somewhat_similar")
        if (
            not isinstance(bands, dict)
            or set(bands) - {*keys, "note"}
            or not all(
                isinstance(bands.get(k), int | float) and not isinstance(bands.get(k), bool) for k in keys
            )
        ):
            raise ManifestError(f"{where}: [bands] needs numbers very_similar, similar, somewhat_similar")
        if not bands["very_similar"] >= bands["similar"] >= bands["somewhat_similar"]:
            raise ManifestError(f"{where}: [bands] must satisfy very_similar >= similar >= somewhat_similar")
    urls = entry.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise ManifestError(f"{where}: 'urls' must be a list of strings")
    dim = entry.get("dim")
    if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0):
        raise ManifestError(f"{where}: 'dim' must be a positive integer")
    task = cast(Task, _choice(entry, "task", ("detector", "embedder"), where))
    if task == "embedder" and dim is None:
        raise ManifestError(f"{where}: an embedder needs 'dim' (its output vector length)")
    pre = _req(entry, "preprocess", dict, where)
    file = cast(str, _req(entry, "file", str, where))
    if Path(file).name != file:
        raise ManifestError(f"{where}: 'file' must be a plain file name, got {file!r}")
    return ModelSpec(
        name=_req(entry, "name", str, where),
        task=task,
        family=_req(entry, "family", str, where),
        file=file,
        sha256=sha,
        runtime=runtime,
        weights=weights,
        weights_sha256=weights_sha,
        licence=_req(entry, "licence", str, where),
        urls=tuple(urls),
        source=str(entry.get("source", "")),
        pack=str(entry.get("pack", "plugin")),
        preprocess=_parse_preprocess(pre, where),
        outputs=_req(entry, "outputs", str, where),
        dim=dim,
        batch=cast(Literal["fixed", "dynamic"], _choice(entry, "batch", ("fixed", "dynamic"), where)),
        appearance_only=bool(entry.get("appearance_only", False)),
        manifest=manifest,
        bands=None
        if bands is None
        else {k: float(bands[k]) for k in ("very_similar", "similar", "somewhat_similar")},
        bands_note=str(bands.get("note", "")) if bands is not None else "",
    )


def load_manifest(path: Path | None = None) -> list[ModelSpec]:
    """Parse one manifest file (the repo's own by default). Raises ManifestError with the file named."""
    path = path or MANIFEST_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"cannot read model manifest {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"model manifest {path} is not valid TOML: {exc}") from exc
    entries = data.get("model", [])
    if not isinstance(entries, list):
        raise ManifestError(f"model manifest {path}: expected [[model]] tables")
    specs = [_parse_spec(e, path, i) for i, e in enumerate(entries)]
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ManifestError(f"model manifest {path}: duplicate model names {', '.join(dupes)}")
    return specs


def models_dirs() -> list[Path]:
    """Directories from env REID_MODELS_DIRS (os.pathsep separated), in lookup order."""
    raw = os.environ.get(ENV_DIRS, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def cache_dir() -> Path:
    """Where downloads land when no models dir is set: REID_MODELS_CACHE, else the user's cache dir."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sightline" / "models"


def _dirs(dirs: Sequence[Path] | None) -> list[Path]:
    return list(dirs) if dirs is not None else models_dirs()


def all_specs(dirs: Sequence[Path] | None = None) -> dict[str, ModelSpec]:
    """The repo manifest plus every side-car models.toml in the models dirs (a side-car wins on a name)."""
    specs = {s.name: s for s in load_manifest()}
    # Later dirs are lower priority, so apply them first and let earlier dirs override.
    for d in reversed(_dirs(dirs)):
        sidecar = d / SIDECAR_NAME
        if sidecar.is_file():
            specs.update({s.name: s for s in load_manifest(sidecar)})
    return specs


# ---------------------------------------------------------------- lookup


@lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def _mismatch(spec: ModelSpec, path: Path) -> str | None:
    """Why the model's files at path (and beside it) fail their checksums, or None when they hold."""
    for name, expected in spec.files:
        file = path.with_name(name)
        if not file.is_file():
            return f"{file} is missing (it belongs beside {path.name})"
        actual = sha256_file(file)
        if actual != expected:
            return f"{file} has sha256 {actual}, but the manifest ({spec.manifest.name}) expects {expected}"
    return None


def _verify(spec: ModelSpec, path: Path) -> None:
    problem = _mismatch(spec, path)
    if problem is not None:
        raise ChecksumMismatchError(
            f"model '{spec.name}': {problem}. The file is corrupt, truncated or another model: replace it "
            f"with the right file" + (f" from {spec.urls[0]}" if spec.urls else "") + " or remove it."
        )


def _candidates(spec: ModelSpec, dirs: Sequence[Path]) -> list[tuple[Path, Source]]:
    found: list[tuple[Path, Source]] = [(d / spec.file, "models_dir") for d in dirs]
    found.append((BUNDLED_DIR / spec.file, "bundled"))
    found.append((cache_dir() / spec.file, "cache"))
    return [(p, s) for p, s in found if p.is_file()]


def _download(spec: ModelSpec, target_dir: Path) -> Path:
    if not spec.urls:
        raise ModelDownloadError(f"model '{spec.name}' has no download URL; {spec.source}".rstrip("; "))
    if spec.weights is not None:
        raise ModelDownloadError(f"model '{spec.name}' has several files; put them in a models dir by hand")
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelDownloadError(f"cannot create {target_dir} for model '{spec.name}': {exc}") from exc
    failures: list[str] = []
    for url in spec.urls:
        if not url.startswith(("https://", "http://")):
            failures.append(f"{url}: only http(s) URLs are downloaded")
            continue
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.file}.", suffix=".part", dir=target_dir)
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:  # noqa: S310 (scheme checked above)
                for block in iter(lambda: resp.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != spec.sha256:
                got = digest.hexdigest()
                failures.append(f"{url}: downloaded file has sha256 {got}, expected {spec.sha256}")
                continue
            final = target_dir / spec.file
            os.replace(tmp, final)
            return final
        except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            failures.append(f"{url}: {reason}")
        finally:
            tmp.unlink(missing_ok=True)
    raise ModelDownloadError(
        f"could not download model '{spec.name}' ({spec.file}):\n  "
        + "\n  ".join(failures)
        + f"\nDownload it by hand and put it in a directory listed in {ENV_DIRS}."
    )


def resolve_spec(
    spec: ModelSpec, *, dirs: Sequence[Path] | None = None, download: bool = False
) -> ResolvedModel:
    """Find and verify one model. The first file found decides: a wrong checksum is an error, not a skip."""
    search = _dirs(dirs)
    found = _candidates(spec, search)
    if found:
        path, source = found[0]
        _verify(spec, path)
        return ResolvedModel(spec=spec, path=path, source=source)
    if download:
        target = search[0] if search else cache_dir()
        return ResolvedModel(spec=spec, path=_download(spec, target), source="downloaded")
    places = [str(d) for d in search] or [f"(none: {ENV_DIRS} is not set)"]
    hint = f" or download it from {spec.urls[0]}" if spec.urls else ""
    raise ModelNotFoundError(
        f"model '{spec.name}' ({spec.file}) not found in the models dirs {', '.join(places)}, "
        f"the bundled models or the download cache {cache_dir()}. Put the file in a directory listed in "
        f"{ENV_DIRS}{hint}."
    )


def get_spec(name: str, dirs: Sequence[Path] | None = None) -> ModelSpec:
    specs = all_specs(dirs)
    if name not in specs:
        raise ModelNotFoundError(f"unknown model '{name}'; known models: {', '.join(sorted(specs))}")
    return specs[name]


def resolve(name: str, *, dirs: Sequence[Path] | None = None, download: bool = False) -> ResolvedModel:
    return resolve_spec(get_spec(name, dirs), dirs=dirs, download=download)


def list_models(dirs: Sequence[Path] | None = None) -> list[ModelStatus]:
    """Every known model with where it was found and whether its checksum holds (never downloads)."""
    search = _dirs(dirs)
    out: list[ModelStatus] = []
    for spec in all_specs(search).values():
        found = _candidates(spec, search)
        if not found:
            out.append(
                ModelStatus(
                    spec,
                    "missing",
                    None,
                    None,
                    "not found" + (f"; downloadable from {spec.urls[0]}" if spec.urls else ""),
                )
            )
            continue
        path, source = found[0]
        problem = _mismatch(spec, path)
        if problem is None:
            out.append(ModelStatus(spec, "ok", path, source, "sha256 verified"))
        else:
            out.append(ModelStatus(spec, "checksum_mismatch", path, source, problem))
    return out


def _pack(name: str, detector: ResolvedModel, embedder: ResolvedModel, reason: str) -> Pack:
    return Pack(name, detector, embedder, embedder.spec.appearance_only, reason)


def choose_pack(
    preference: PackName | str = "auto",
    dirs: Sequence[Path] | None = None,
    *,
    embedder: str | None = None,
    download: bool = False,
) -> Pack:
    """auto: the trained pack when its models are found and verified (they ship in the package), else the
    appearance-only pack, saying why. ``accurate`` and ``default`` are the names earlier releases used.

    ``embedder`` names any embedder in the manifests (e.g. a plug-in) to use instead of the pack's own;
    without it, env REID_EMBEDDER does the same, so the CLI and the web app pick up a plug-in by setting.
    ``download`` fetches missing models from their URLs (sha256 checked); off by default because an
    offline machine would wait on every load.
    """
    search = _dirs(dirs)
    embedder = embedder or os.environ.get(ENV_EMBEDDER) or None
    if preference not in PACK_CHOICES:
        raise ModelError(f"unknown pack '{preference}'; choose {', '.join(PACK_CHOICES[:3])}")
    wanted = PACK_ALIASES.get(preference, preference)
    reason = f"{wanted} pack requested"
    if wanted != preference:
        reason += f" (as '{preference}', its earlier name)"
    chosen: tuple[str, ResolvedModel, ResolvedModel] | None = None
    if wanted in ("auto", "trained"):
        try:
            det, emb = (resolve(n, dirs=search, download=download) for n in TRAINED_MODELS)
            chosen = ("trained", det, emb)
            if wanted == "auto":
                reason = "auto: trained person re-identification pack found and verified"
        except ModelError as exc:
            if wanted == "trained":
                raise
            reason = f"auto: trained pack unavailable ({exc}); using the appearance-only pack"
    if chosen is None:
        det, emb = (resolve(n, dirs=search) for n in APPEARANCE_MODELS)
        chosen = ("appearance", det, emb)
    name, det, emb = chosen
    if embedder is not None:
        emb = resolve(embedder, dirs=search, download=download)
        if emb.spec.task != "embedder":
            raise ModelError(f"model '{embedder}' is a {emb.spec.task}, not an embedder")
        name = f"{name}+{embedder}"
    return _pack(name, det, emb, reason)
