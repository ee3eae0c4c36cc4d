"""The vectors a chromadb 1.x HNSW segment folder holds, read without chromadb or hnswlib.

chromadb's local vector segment is a folder named after the segment id with chroma-hnswlib's files:
``header.bin`` (the index's shape), ``data_level0.bin`` (one fixed-size element per vector: its level-0
links, its float32 data, its uint64 label), ``length.bin`` and ``link_lists.bin`` (the upper layers,
not needed here), and ``index_metadata.pickle``, a plain dict whose ``id_to_label`` maps a record id
to its label. chromadb writes them only every ``sync_threshold`` records (1000 by default); until then
the folder holds empty files and no pickle, and the vectors are only in the ``embeddings_queue`` table.

A cosine collection's vectors are stored normalised (hnswlib normalises them on insertion), so they
come back with unit length: chromadb's own ``get(include=["embeddings"])`` returns the same.

Example:
    >>> import tempfile
    >>> read_segment_vectors(Path(tempfile.mkdtemp()))
    {}

"""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.errors import InvalidArgumentError

# chroma-hnswlib's header.bin: a format version (int32), then hnswlib's saveIndex fields.
_HEADER = struct.Struct("<i Q Q Q Q Q Q i I Q Q Q d Q")
_HEADER_FIELDS = (
    "version", "offset_level0", "max_elements", "count", "size_per_element", "label_offset", "offset_data",
    "max_level", "enter_point", "max_m", "max_m0", "m", "mult", "ef_construction",
)  # fmt: skip
_DELETE_MARK = 0x01  # hnswlib marks a deleted element in byte 2 of its level-0 link-list header


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data only: the metadata pickle holds dicts, strings and ints, never a class to import."""

    def find_class(self, module: str, name: str) -> Any:
        raise InvalidArgumentError(f"index_metadata.pickle names {module}.{name}: not chromadb 1.x's plain metadata, not read")


def read_pickle(path: Path) -> dict[str, Any]:
    """The dict in ``index_metadata.pickle``, unpickled without importing any class.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "index_metadata.pickle"
        >>> _ = target.write_bytes(pickle.dumps({"id_to_label": {"a": 1}}))
        >>> read_pickle(target)["id_to_label"]
        {'a': 1}

    """
    try:
        data = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError) as exc:  # InvalidArgumentError is a ValueError
        if isinstance(exc, InvalidArgumentError):
            raise
        raise InvalidArgumentError(f"{path} is not a readable chromadb index metadata file: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("id_to_label"), dict):
        raise InvalidArgumentError(f"{path} has no id_to_label map: not chromadb's index metadata")
    return data


def read_segment_vectors(folder: Path) -> dict[str, npt.NDArray[np.float32]]:
    """Each indexed record id's vector in the HNSW segment ``folder``; ``{}`` before chromadb's first sync.

    Raises:
        InvalidArgumentError: the files are cut short or disagree (a label the map names is not in the data).

    """
    pickle_path = folder / "index_metadata.pickle"
    if not pickle_path.is_file():
        return {}
    id_to_label: dict[str, int] = read_pickle(pickle_path)["id_to_label"]
    if not id_to_label:
        return {}
    header = _read_header(folder / "header.bin")
    dimension, remainder = divmod(header["label_offset"] - header["offset_data"], 4)
    size = header["size_per_element"]
    raw = (folder / "data_level0.bin").read_bytes()
    count = header["count"]
    if remainder or dimension <= 0 or len(raw) < count * size:
        raise InvalidArgumentError(f"{folder / 'data_level0.bin'} is cut short or does not match header.bin")
    elements = np.frombuffer(raw, dtype=np.uint8, count=count * size).reshape(count, size)
    labels = elements[:, header["label_offset"] : header["label_offset"] + 8].copy().view("<u8").ravel()
    deleted = (elements[:, header["offset_level0"] + 2] & _DELETE_MARK).astype(bool)
    data = elements[:, header["offset_data"] : header["label_offset"]].copy().view("<f4")
    position = {int(label): row for row, label in enumerate(labels) if not deleted[row]}
    vectors: dict[str, npt.NDArray[np.float32]] = {}
    for record_id, label in id_to_label.items():
        row = position.get(int(label))
        if row is None:
            raise InvalidArgumentError(f"{folder}: record {record_id!r} has label {label}, which the HNSW data does not hold")
        vectors[record_id] = data[row].astype(np.float32)
    return vectors


def _read_header(path: Path) -> dict[str, Any]:
    raw = path.read_bytes() if path.is_file() else b""
    if len(raw) < _HEADER.size:
        raise InvalidArgumentError(f"{path} is missing or cut short ({len(raw)} bytes, expected {_HEADER.size})")
    return dict(zip(_HEADER_FIELDS, _HEADER.unpack_from(raw), strict=True))
