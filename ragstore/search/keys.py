"""``Key`` (alias ``K``): names a field of a record, and builds where expressions on it.

Special fields start with ``#``: ``K.ID`` (``"#id"``), ``K.DOCUMENT`` (``"#document"``),
``K.EMBEDDING`` (``"#embedding"``), ``K.METADATA`` (``"#metadata"``), ``K.SCORE``
(``"#score"``); any other name is a metadata field. As in chromadb, comparison operators
return where expressions instead of booleans (``K("a") == 1`` is ``Eq("a", 1)``), and a
key hashes like its name, so ``{K("a"), "a"}`` holds one element.

Example:
    >>> (K("year") >= 2020).to_dict()
    {'year': {'$gte': 2020}}
    >>> K.DOCUMENT.contains("hnsw").to_dict()
    {'#document': {'$contains': 'hnsw'}}

"""

from __future__ import annotations

from typing import Any, ClassVar

from ragstore.search.where import (
    Contains,
    Eq,
    Exists,
    Gt,
    Gte,
    In,
    Lt,
    Lte,
    Ne,
    Nin,
    NotContains,
    NotRegex,
    NotTextContains,
    Regex,
    TextContains,
)

__all__ = ["DOCUMENT_KEY", "EMBEDDING_KEY", "ID_KEY", "METADATA_KEY", "SCORE_KEY", "K", "Key", "key_name"]

ID_KEY = "#id"
DOCUMENT_KEY = "#document"
EMBEDDING_KEY = "#embedding"
METADATA_KEY = "#metadata"
SCORE_KEY = "#score"


class Key:
    """A field reference; ``K`` is the same class.

    Example:
        >>> K("tags").is_in(["a", "b"]).to_dict()
        {'tags': {'$in': ['a', 'b']}}
        >>> K.ID.name
        '#id'

    """

    ID: ClassVar[Key]
    DOCUMENT: ClassVar[Key]
    EMBEDDING: ClassVar[Key]
    METADATA: ClassVar[Key]
    SCORE: ClassVar[Key]

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"Key({self.name!r})"

    # chromadb overrides == and != to build expressions; the type checker's objection is the point.
    def __eq__(self, value: Any) -> Eq:  # type: ignore[override]
        """``Key('field') == value``."""
        return Eq(self.name, value)

    def __ne__(self, value: Any) -> Ne:  # type: ignore[override]
        """``Key('field') != value``."""
        return Ne(self.name, value)

    def __gt__(self, value: Any) -> Gt:
        """``Key('field') > value``."""
        return Gt(self.name, value)

    def __ge__(self, value: Any) -> Gte:
        """``Key('field') >= value``."""
        return Gte(self.name, value)

    def __lt__(self, value: Any) -> Lt:
        """``Key('field') < value``."""
        return Lt(self.name, value)

    def __le__(self, value: Any) -> Lte:
        """``Key('field') <= value``."""
        return Lte(self.name, value)

    def is_in(self, values: list[Any]) -> In:
        """The field's value is one of ``values``."""
        return In(self.name, values)

    def not_in(self, values: list[Any]) -> Nin:
        """The field's value is none of ``values``."""
        return Nin(self.name, values)

    def exists(self, present: bool = True) -> Exists:
        """The record's metadata holds the field (``present=False``: lacks it); a ragstore extension.

        Example:
            >>> K("author").exists().to_dict(), K("author").exists(False).to_dict()
            ({'author': {'$exists': True}}, {'author': {'$exists': False}})

        """
        return Exists(self.name, present)

    def text_contains(self, text: str) -> TextContains:
        """The field is a string holding ``text`` (case-sensitive); a ragstore extension.

        Unlike :meth:`contains`, which on metadata is chromadb's array membership.

        Example:
            >>> K("title").text_contains("HNSW").to_dict()
            {'title': {'$text_contains': 'HNSW'}}

        """
        return TextContains(self.name, text)

    def not_text_contains(self, text: str) -> NotTextContains:
        """The negation of :meth:`text_contains` (records lacking the field match)."""
        return NotTextContains(self.name, text)

    def regex(self, pattern: str) -> Regex:
        """The field matches the RE2 regular expression (chroma: ``#document`` only; ragstore: string metadata too)."""
        return Regex(self.name, pattern)

    def not_regex(self, pattern: str) -> NotRegex:
        """The field does not match the regular expression."""
        return NotRegex(self.name, pattern)

    def contains(self, value: str | int | float | bool) -> Contains:
        """On ``K.DOCUMENT`` a substring (a str); on a metadata field, array membership.

        Raises:
            TypeError: a non-str value on ``#document`` (as chromadb).

        """
        return Contains(self.name, self._contains_operand("$contains", value))

    def not_contains(self, value: str | int | float | bool) -> NotContains:
        """The negation of :meth:`contains`.

        Raises:
            TypeError: a non-str value on ``#document`` (as chromadb).

        """
        return NotContains(self.name, self._contains_operand("$not_contains", value))

    def _contains_operand(self, op: str, value: str | int | float | bool) -> str | int | float | bool:
        """``value``, refused with chromadb's TypeError when it is not text on ``#document``."""
        if self.name == DOCUMENT_KEY and not isinstance(value, str):
            raise TypeError(f"{op} on #document requires a string pattern")
        return value


Key.ID = Key(ID_KEY)
Key.DOCUMENT = Key(DOCUMENT_KEY)
Key.EMBEDDING = Key(EMBEDDING_KEY)
Key.METADATA = Key(METADATA_KEY)
Key.SCORE = Key(SCORE_KEY)

K = Key


def key_name(key: Key | str) -> str:
    """The field name of a ``Key`` or a plain string.

    Example:
        >>> key_name(K.SCORE), key_name("title")
        ('#score', 'title')

    """
    return key.name if isinstance(key, Key) else key
