"""``SearchResult``: chromadb's column-major answer to a batch of searches.

A dict with one list per search in each of ``ids``, ``documents``, ``embeddings``,
``metadatas``, ``scores`` and ``select`` (the keys each search selected). A column a
search did not select is ``None`` for that search (or the whole column is ``None``).
``rows()`` turns it row-major: per search, one dict per record with ``id`` and each
selected field that is not ``None``.

Example:
    >>> r = SearchResult({"ids": [["a", "b"]], "documents": [["x", None]], "scores": [[0.1, 0.2]],
    ...                   "embeddings": None, "metadatas": None, "select": [["#document", "#score"]]})
    >>> r.rows()
    [[{'id': 'a', 'document': 'x', 'score': 0.1}, {'id': 'b', 'score': 0.2}]]

"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["SearchResult", "SearchResultRow"]


class SearchResultRow(TypedDict, total=False):
    """One record of one search: ``id`` always, the other fields when selected and present."""

    id: str
    document: str | None
    embedding: list[float] | None
    metadata: dict[str, Any] | None
    score: float | None


class SearchResult(dict):  # type: ignore[type-arg]  # chromadb's class is a plain dict subclass
    """Column-major search results (chromadb's ``SearchResult``).

    Example:
        >>> SearchResult({"ids": [["a"], []]}).rows()
        [[{'id': 'a'}], []]

    """

    ids: list[list[str]]
    documents: list[list[str | None] | None]
    embeddings: list[list[list[float] | None] | None]
    metadatas: list[list[dict[str, Any] | None] | None]
    scores: list[list[float | None] | None]
    select: list[list[str]]

    def rows(self) -> list[list[SearchResultRow]]:
        """Row-major results: per search, one :class:`SearchResultRow` per record (chromadb's rules)."""
        all_ids = self.get("ids", [])
        n = len(all_ids)
        columns = [self.get(name) or [None] * n for name in ("documents", "embeddings", "metadatas", "scores")]
        result: list[list[SearchResultRow]] = []
        for ids, docs, embs, metas, scores in zip(all_ids, *columns, strict=False):  # chromadb's zip: stops at the shortest
            rows: list[SearchResultRow] = []
            blank = [None] * len(ids)
            for id_, doc, emb, meta, score in zip(ids, docs or blank, embs or blank, metas or blank, scores or blank, strict=False):
                row: SearchResultRow = {"id": id_}
                if doc is not None:
                    row["document"] = doc
                if emb is not None:
                    row["embedding"] = emb
                if meta is not None:
                    row["metadata"] = meta
                if score is not None:
                    row["score"] = score
                rows.append(row)
            result.append(rows)
        return result
