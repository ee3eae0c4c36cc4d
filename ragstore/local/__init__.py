"""The in-process engine: SQLite storage plus cached HNSW indexes.

Example:
    >>> from ragstore.local import LocalAPI
    >>> LocalAPI(None).count_collections()
    0

"""

from __future__ import annotations

from ragstore.local.engine import LocalAPI

__all__ = ["LocalAPI"]
