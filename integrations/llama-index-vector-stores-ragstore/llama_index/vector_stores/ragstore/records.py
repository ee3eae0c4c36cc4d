"""Convert LlamaIndex nodes to ragstore records and back.

A node is stored as one record: id ``node.node_id``, its embedding, its text (without
metadata) as the document, and as metadata ``node_to_metadata_dict(node, remove_text=True)``:
the node's metadata plus ``_node_content`` (the whole node as JSON, text removed),
``_node_type`` and ``document_id`` / ``doc_id`` / ``ref_doc_id`` (the source document's
id, ``"None"`` when there is none), so ``metadata_dict_to_node`` rebuilds the node
with its metadata, relationships and text.

ragstore rejects ``None`` metadata values in writes and cannot store empty lists, so
metadata keys whose value is ``None`` or ``[]`` are left out of the record's metadata
columns: filters see them as missing (``is_empty`` matches them, ``!=`` and ``nin``
match them as a missing key), and the node still round-trips with them, from
``_node_content``.

Every record also gets a ``source`` column, the key ``ragstore query`` and ``ragstore peek``
show (ragstore's own loaders set it): the node's own ``source`` metadata if it has one, else
the first of ``file_path`` (``SimpleDirectoryReader``), ``file_name``, ``url`` and ``filename``
(other readers) that it has (:func:`node_source`). The column is not added to the node's
metadata (which the embedding and the LLM saw), so nodes round-trip unchanged; a filter on
``source`` sees it.

Example:
    >>> from llama_index.core.schema import TextNode
    >>> node = TextNode(id_="n1", text="hello", metadata={"lang": "en", "note": None}, embedding=[1.0, 0.0])
    >>> record = node_to_record(node, flat_metadata=True)
    >>> record.document, record.metadata["lang"], "note" in record.metadata
    ('hello', 'en', False)
    >>> record_to_node(record.id, record.document, record.metadata).metadata
    {'lang': 'en', 'note': None}

"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from llama_index.core.schema import BaseNode, MetadataMode, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from llama_index.vector_stores.ragstore.errors import InvalidNodeError

RESERVED_KEYS = frozenset({"_node_content", "_node_type", "document_id", "doc_id", "ref_doc_id"})
SOURCE_KEY = "source"
# Where LlamaIndex readers put a node's origin, most specific first (SimpleDirectoryReader sets file_path and file_name).
SOURCE_FALLBACKS = ("file_path", "file_name", "url", "filename")


@dataclasses.dataclass(frozen=True)
class Record:
    """One ragstore record: what ``collection.upsert`` takes for a node."""

    id: str
    embedding: list[float]
    document: str
    metadata: dict[str, Any]


def _scalar_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    return None


def storable(value: Any) -> bool:
    """Whether ragstore can hold ``value`` as a metadata column: a scalar or a non-empty one-type list.

    Example:
        >>> storable(["a", "b"]), storable([1, "a"]), storable({"nested": 1})
        (True, False, False)

    """
    if isinstance(value, list):
        kinds = {_scalar_kind(item) for item in value}
        return len(kinds) == 1 and None not in kinds
    return _scalar_kind(value) is not None


def node_source(metadata: Mapping[str, Any]) -> str | None:
    """The ``source`` column for a node's ``metadata`` (see the module docstring), or ``None`` if it names no origin.

    Example:
        >>> node_source({"file_path": "/docs/a.md", "file_name": "a.md"}), node_source({"source": "b.pdf", "url": "x"})
        ('/docs/a.md', 'b.pdf')
        >>> node_source({"topic": "food"}) is None
        True

    """
    for key in (SOURCE_KEY, *SOURCE_FALLBACKS):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def record_metadata(node: BaseNode, *, flat_metadata: bool) -> dict[str, Any]:
    """The metadata columns stored for ``node`` (see the module docstring).

    Args:
        node: The node.
        flat_metadata: Reject values ragstore cannot hold (nested dicts, mixed lists) with
            :class:`InvalidNodeError`; when ``False`` such values live only in ``_node_content``
            (they round-trip but cannot be filtered on).

    Raises:
        InvalidNodeError: a metadata value ragstore cannot hold, when ``flat_metadata``.

    """
    # llama-index's own flat check forbids lists, which ragstore stores (and ``contains`` needs): check here instead.
    metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=False)
    columns: dict[str, Any] = {}
    for key, value in metadata.items():
        if value is None or value == []:
            continue
        if key in RESERVED_KEYS or storable(value):
            columns[key] = value
        elif flat_metadata:
            raise InvalidNodeError(
                f"Node {node.node_id!r}: metadata value for {key!r} must be a str, int, float, bool, None "
                f"or a non-empty list of one of those types, got {value!r} (pass flat_metadata=False to keep it "
                "in the node only, unfilterable)"
            )
    source = node_source(node.metadata)
    if source is not None and SOURCE_KEY not in columns:  # a node's own non-string source stays as it is
        columns[SOURCE_KEY] = source
    return columns


def node_to_record(node: BaseNode, *, flat_metadata: bool) -> Record:
    """The record that stores ``node``.

    Raises:
        InvalidNodeError: the node has no embedding, or metadata ragstore cannot hold.

    """
    if node.embedding is None:
        raise InvalidNodeError(f"Node {node.node_id!r} has no embedding: embed it before adding (VectorStoreIndex does)")
    return Record(
        id=node.node_id,
        embedding=list(node.embedding),
        document=node.get_content(metadata_mode=MetadataMode.NONE),
        metadata=record_metadata(node, flat_metadata=flat_metadata),
    )


def record_to_node(record_id: str, document: str | None, metadata: Mapping[str, Any] | None) -> BaseNode:
    """Rebuild the node a record stores.

    Records written by other tools (no ``_node_content``, e.g. ``ragstore ingest``) become a
    ``TextNode`` with the record's id, document and metadata.

    Example:
        >>> record_to_node("r1", "plain text", {"source": "a.md"}).metadata
        {'source': 'a.md'}

    """
    if metadata and "_node_content" in metadata:
        return metadata_dict_to_node(dict(metadata), text=document)
    return TextNode(id_=record_id, text=document or "", metadata=dict(metadata or {}))
