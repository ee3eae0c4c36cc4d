"""chromadb's BM25 sparse embedding function (``chroma_bm25``), with the same output.

Each text becomes a :class:`~ragstore.sparse_vectors.SparseVector` over the Murmur3
hashes of its stems (:mod:`ragstore.bm25_text`), weighted by BM25's term-frequency
part with a *fixed* average length::

    tf * (k + 1) / (tf + k * (1 - b + b * length / avg_doc_length))

That is what chromadb's client stores and sends as query vectors; it has no inverse
document frequency, which only the collection knows. ragstore's engine therefore scores
a BM25 index from the texts themselves with the collection's real statistics, and uses
this function for its name, its configuration (``k``, ``b``, stop words, token length)
and its query hashes.

Example:
    >>> ef = ChromaBm25EmbeddingFunction()
    >>> vector = ef(["cats chase cats"])[0]
    >>> len(vector.indices), [round(v, 4) for v in sorted(vector.values)]
    (2, [1.6787, 1.9043])
    >>> ChromaBm25EmbeddingFunction.build_from_config(ef.get_config()).get_config() == ef.get_config()
    True

"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ragstore.bm25_text import DEFAULT_STOPWORDS, TOKEN_MAX_LENGTH, Bm25Tokenizer, default_tokenizer, token_hash
from ragstore.embeddings.base import as_texts, register_sparse_embedding_function
from ragstore.errors import InvalidArgumentError
from ragstore.sparse_vectors import SparseEmbeddingFunction, SparseVector

NAME = "chroma_bm25"
DEFAULT_K = 1.2
DEFAULT_B = 0.75
DEFAULT_AVG_DOC_LENGTH = 256.0
DEFAULT_TOKEN_MAX_LENGTH = TOKEN_MAX_LENGTH
DEFAULT_CHROMA_BM25_STOPWORDS: list[str] = list(DEFAULT_STOPWORDS)

# chromadb's JSON schema for the configuration (schemas/embedding_functions/chroma_bm25.json).
_NUMBER_KEYS = ("k", "b", "avg_doc_length", "token_max_length")
_CONFIG_KEYS = frozenset({*_NUMBER_KEYS, "stopwords", "include_tokens"})


@register_sparse_embedding_function
class ChromaBm25EmbeddingFunction(SparseEmbeddingFunction[Sequence[str]]):
    """BM25 term weights as sparse vectors, exactly as ``chromadb.utils.embedding_functions.ChromaBm25EmbeddingFunction``.

    Args:
        k: Term-frequency saturation.
        b: Length normalisation.
        avg_doc_length: The average length (in terms) the weights assume.
        token_max_length: Longer tokens are dropped.
        stopwords: Words to drop; ``None``: chroma's English list.
        include_tokens: Give each vector its stems as ``labels``.

    """

    def __init__(
        self,
        k: float = DEFAULT_K,
        b: float = DEFAULT_B,
        avg_doc_length: float = DEFAULT_AVG_DOC_LENGTH,
        token_max_length: int = DEFAULT_TOKEN_MAX_LENGTH,
        stopwords: Iterable[str] | None = None,
        include_tokens: bool = False,
    ) -> None:
        self.k = float(k)
        self.b = float(b)
        self.avg_doc_length = float(avg_doc_length)
        self.token_max_length = int(token_max_length)
        self.include_tokens = bool(include_tokens)
        self.stopwords: list[str] | None = None if stopwords is None else [str(word) for word in stopwords]
        if self.stopwords is None and self.token_max_length == TOKEN_MAX_LENGTH:
            self._tokenizer = default_tokenizer()  # shares the remembered hashes of every default user
        else:
            self._tokenizer = Bm25Tokenizer(self.stopwords, self.token_max_length)

    @property
    def tokenizer(self) -> Bm25Tokenizer:
        """The tokenizer this function's configuration defines (the engine derives term counts with it)."""
        return self._tokenizer

    def _encode(self, text: str) -> SparseVector:
        counts = self._tokenizer.term_counts(text)
        if not counts.length:
            return SparseVector.trusted([], [])  # no labels, even with include_tokens (as chromadb)
        tf = counts.counts.astype(np.float64)
        # chromadb's expression, in its order of operations, so the floats are the same.
        denominator = tf + self.k * (1 - self.b + (self.b * float(counts.length)) / self.avg_doc_length)
        values = tf * (self.k + 1) / denominator
        labels = self._labels(text, counts.hashes.tolist()) if self.include_tokens else None
        return SparseVector.trusted(counts.hashes.tolist(), values.tolist(), labels)

    def _labels(self, text: str, hashes: list[int]) -> list[str]:
        """The stem behind each hash (the first one seen, if two stems share a hash, as chromadb keeps)."""
        first: dict[int, str] = {}
        for stem in self._tokenizer.tokenize(text):
            first.setdefault(token_hash(stem), stem)
        return [first[h] for h in hashes]

    def __call__(self, input: Sequence[str]) -> list[SparseVector]:  # noqa: A002 - chromadb's parameter name
        """One sparse vector per text (an empty list for no texts, as chromadb)."""
        if not input:
            return []
        return [self._encode(text) for text in as_texts(input)]

    def embed_query(self, input: Sequence[str]) -> list[SparseVector]:  # noqa: A002
        """Queries are weighted as documents are (chromadb's behaviour)."""
        return self.__call__(input)

    @staticmethod
    def name() -> str:
        """Registry name, chromadb's."""
        return NAME

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaBm25EmbeddingFunction:
        """Rebuild from :meth:`get_config`'s output (missing keys take the defaults)."""
        return ChromaBm25EmbeddingFunction(
            k=config.get("k", DEFAULT_K),
            b=config.get("b", DEFAULT_B),
            avg_doc_length=config.get("avg_doc_length", DEFAULT_AVG_DOC_LENGTH),
            token_max_length=config.get("token_max_length", DEFAULT_TOKEN_MAX_LENGTH),
            stopwords=config.get("stopwords"),
            include_tokens=config.get("include_tokens", False),
        )

    def get_config(self) -> dict[str, Any]:
        """The configuration chromadb persists (``stopwords`` only when given)."""
        config: dict[str, Any] = {
            "k": self.k,
            "b": self.b,
            "avg_doc_length": self.avg_doc_length,
            "token_max_length": self.token_max_length,
            "include_tokens": self.include_tokens,
        }
        if self.stopwords is not None:
            config["stopwords"] = list(self.stopwords)
        return config

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        """Every key may change; an unknown one is refused (chromadb's rule)."""
        for key in new_config:
            if key not in _CONFIG_KEYS:
                raise InvalidArgumentError(f"Updating '{key}' is not supported for {NAME}")

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Check ``config`` against chromadb's JSON schema for ``chroma_bm25``.

        Example:
            >>> ChromaBm25EmbeddingFunction.validate_config({"k": "high"})
            Traceback (most recent call last):
            ...
            ragstore.errors.InvalidArgumentError: Invalid configuration for embedding function chroma_bm25: 'k' must be a number

        """
        problem = _config_problem(config)
        if problem:
            raise InvalidArgumentError(f"Invalid configuration for embedding function {NAME}: {problem}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _config_problem(config: Any) -> str | None:
    if not isinstance(config, dict):
        return f"expected an object, got {type(config).__name__}"
    unknown = sorted(set(config) - _CONFIG_KEYS)
    if unknown:
        return f"unexpected keys {unknown}"
    for key in _NUMBER_KEYS:
        if key in config and not _is_number(config[key]):
            return f"'{key}' must be a number"
    stopwords = config.get("stopwords")
    if "stopwords" in config and (not isinstance(stopwords, list) or not all(isinstance(word, str) for word in stopwords)):
        return "'stopwords' must be an array of strings"
    if "include_tokens" in config and not isinstance(config["include_tokens"], bool):
        return "'include_tokens' must be a boolean"
    return None
