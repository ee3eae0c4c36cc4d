"""Collection configuration: the HNSW parameters and where they come from.

A collection's configuration is a JSON dict stored with it::

    {"hnsw": {"space": "l2", "ef_construction": 100, "ef_search": 100,
              "max_neighbors": 32, "num_threads": <cpus>, "batch_size": 100,
              "sync_threshold": 1000, "resize_factor": 1.2},
     "embedding_function": {"type": "known", "name": ..., "config": {...}} | None}

It is set at creation from ``configuration={"hnsw": {...}}`` or, as in old
chromadb code, from ``metadata={"hnsw:space": ...}``; ``configuration`` wins.
Only the search-time parameters can change later (``modify``). The engine reads the
stored dict through :func:`hnsw_settings`, which gives a typed :class:`HnswSettings`
with the same defaults that a new collection gets.

Example:
    >>> cfg = build_configuration({"hnsw": {"space": "cosine"}}, None)
    >>> cfg["hnsw"]["space"], cfg["hnsw"]["max_neighbors"]
    ('cosine', 32)

"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ragstore.errors import InvalidArgumentError

SPACES = ("l2", "cosine", "ip")


def _cpu_count() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class HnswSettings:
    """A collection's HNSW settings, typed; the field defaults are the ones a new collection gets.

    They are chromadb's, but 32 neighbours, and ``num_threads`` is this machine's CPU count.
    chromadb links each point to 16 neighbours; on 100,000 384-dim vectors that finds 97%
    of the true top 10 at ``ef_search`` 100. With 32 ragstore finds 99.3%, builds as fast
    and answers in about 0.1 ms more (``benchmarks/RESULTS.md``), for 128 more bytes a vector.

    The catalog and the wire keep the dict form (:meth:`as_dict`); read a stored one with
    :func:`hnsw_settings`.

    Example:
        >>> HnswSettings(space="ip").max_neighbors
        32

    """

    space: str = "l2"
    ef_construction: int = 100
    ef_search: int = 100
    max_neighbors: int = 32
    num_threads: int = field(default_factory=_cpu_count)
    resize_factor: float = 1.2
    sync_threshold: int = 1000
    batch_size: int = 100

    def as_dict(self) -> dict[str, Any]:
        """The settings as the ``"hnsw"`` dict stored in the catalog and sent on the wire.

        Example:
            >>> HnswSettings(num_threads=2).as_dict()["num_threads"]
            2

        """
        return {key: getattr(self, key) for key in HNSW_KEYS}


HNSW_KEYS = tuple(f.name for f in fields(HnswSettings))
MODIFIABLE_HNSW_KEYS = ("ef_search", "num_threads", "resize_factor", "sync_threshold", "batch_size")
LEGACY_METADATA_KEYS = {
    "hnsw:space": "space",
    "hnsw:construction_ef": "ef_construction",
    "hnsw:search_ef": "ef_search",
    "hnsw:M": "max_neighbors",
    "hnsw:num_threads": "num_threads",
    "hnsw:resize_factor": "resize_factor",
    "hnsw:sync_threshold": "sync_threshold",
    "hnsw:batch_size": "batch_size",
}


def default_hnsw() -> dict[str, Any]:
    """The HNSW settings of a collection created without any (see :class:`HnswSettings`)."""
    return HnswSettings().as_dict()


def hnsw_settings(configuration: Mapping[str, Any]) -> HnswSettings:
    """The typed HNSW settings of a stored configuration; a key it lacks takes the creation default.

    Every configuration ragstore stores names every key (:func:`build_configuration`), so
    the defaults matter only for a dict written by hand; they are the ones a new collection
    gets, so that such a dict means what it would mean at creation. The engine reads them
    as ``CollectionRow.hnsw``, parsed once per distinct stored text with the configuration.

    Args:
        configuration: A collection's configuration (``{"hnsw": {...}, ...}``), already
            validated when it was stored; keys other than :data:`HNSW_KEYS` are ignored.

    Example:
        >>> hnsw_settings({"hnsw": {"space": "cosine"}}) == HnswSettings(space="cosine")
        True

    """
    stored = configuration.get("hnsw") or {}
    return HnswSettings(**{key: stored[key] for key in HNSW_KEYS if key in stored})


def _check_value(key: str, value: Any) -> Any:
    if key == "space":
        if value not in SPACES:
            raise InvalidArgumentError(f"unknown variant `{value}`, expected one of `l2`, `cosine`, `ip`")
        return value
    if key == "resize_factor":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1.0:
            raise InvalidArgumentError(f"Expected hnsw resize_factor to be a number >= 1, got {value!r}")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"Expected hnsw {key} to be a positive int, got {value!r}")
    if key == "max_neighbors" and value > 2048:
        raise InvalidArgumentError(f"Expected hnsw max_neighbors to be at most 2048, got {value}")
    return value


def _parse_hnsw(section: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise InvalidArgumentError(f"Expected configuration['hnsw'] to be a dict, got {section!r}")
    out: dict[str, Any] = {}
    for key, value in section.items():
        if key not in allowed:
            expected = ", ".join(f"`{k}`" for k in allowed)
            raise InvalidArgumentError(f"unknown field `{key}`, expected one of {expected}")
        if value is not None:
            out[key] = _check_value(key, value)
    return out


def hnsw_from_legacy_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The HNSW settings named by legacy ``hnsw:*`` metadata keys."""
    out: dict[str, Any] = {}
    for legacy_key, key in LEGACY_METADATA_KEYS.items():
        if metadata and legacy_key in metadata:
            try:
                out[key] = _check_value(key, metadata[legacy_key])
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(f"Failed to parse hnsw parameters from collection metadata: {legacy_key}: {exc}") from None
    return out


def build_configuration(
    configuration: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None,
    embedding_function: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The full configuration of a new collection.

    Args:
        configuration: The user's ``configuration`` dict (``{"hnsw": {...}}``).
        metadata: The collection metadata, read for legacy ``hnsw:*`` keys.
        embedding_function: The embedding function's persisted description.

    Raises:
        InvalidArgumentError: unknown keys, bad values, ``hnsw`` with ``spann``.

    Example:
        >>> build_configuration(None, {"hnsw:space": "ip"})["hnsw"]["space"]
        'ip'

    """
    if configuration is not None and not isinstance(configuration, Mapping):
        raise InvalidArgumentError(f"Expected configuration to be a dict, got {configuration!r}")
    configuration = dict(configuration or {})
    unknown = set(configuration) - {"hnsw", "spann", "embedding_function"}
    if unknown:
        raise InvalidArgumentError(f"unknown configuration field(s) {sorted(unknown)}, expected hnsw, spann or embedding_function")
    if configuration.get("hnsw") is not None and configuration.get("spann") is not None:
        raise InvalidArgumentError("hnsw and spann cannot both be provided")
    hnsw = default_hnsw()
    hnsw.update(hnsw_from_legacy_metadata(metadata))
    if configuration.get("spann") is not None:
        # As in chromadb's local mode, a SPANN request becomes HNSW, keeping its space.
        spann = configuration["spann"]
        if isinstance(spann, Mapping) and spann.get("space") is not None:
            hnsw["space"] = _check_value("space", spann["space"])
    hnsw.update(_parse_hnsw(configuration.get("hnsw"), HNSW_KEYS))
    return {"hnsw": hnsw, "spann": None, "embedding_function": embedding_function}


def apply_modification(current: Mapping[str, Any], change: Mapping[str, Any] | None) -> dict[str, Any]:
    """The configuration after ``modify(configuration=change)``.

    Only search-time HNSW parameters may change.

    Example:
        >>> cfg = build_configuration(None, None)
        >>> apply_modification(cfg, {"hnsw": {"ef_search": 50}})["hnsw"]["ef_search"]
        50

    """
    updated = copy.deepcopy(dict(current))
    if change is None:
        return updated
    if not isinstance(change, Mapping):
        raise InvalidArgumentError(f"Expected configuration to be a dict, got {change!r}")
    unknown = set(change) - {"hnsw", "embedding_function"}
    if unknown:
        raise InvalidArgumentError(f"unknown configuration field(s) {sorted(unknown)} in modify, expected hnsw or embedding_function")
    updated["hnsw"].update(_parse_hnsw(change.get("hnsw"), MODIFIABLE_HNSW_KEYS))
    if change.get("embedding_function") is not None:
        updated["embedding_function"] = change["embedding_function"]
    return updated
