"""Small real ``Embeddings`` with chosen vectors, so expected rankings can be worked out by hand."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings


class TableEmbeddings(Embeddings):
    """Embeds each known text as its vector in ``table``; unknown texts raise ``KeyError``."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(self.table[text]) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return list(self.table[text])
