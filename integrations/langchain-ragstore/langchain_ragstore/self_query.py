"""``RagstoreTranslator``: LangChain's self-query structured queries as ragstore filters.

LangChain's ``SelfQueryRetriever`` has an LLM write a structured query
(:mod:`langchain_core.structured_query`) and hands it to a translator for the store's filter
language. langchain-community's ``ChromaTranslator`` takes AND, OR and the six comparisons only;
with ragstore's operators beyond chromadb's this one takes the whole language, and the store
evaluates every filter (nothing is filtered in Python):

=============================  ==========================================================================
structured query               ragstore ``where``
=============================  ==========================================================================
AND, OR                        ``$and``, ``$or`` (with one argument: that argument)
NOT(a)                         ``{"$not": a}``
NOT(a, b, ...)                 ``{"$not": {"$or": [a, b, ...]}}``: none of them holds (as Qdrant's and
                               Elasticsearch's ``must_not`` read several arguments)
EQ NE GT GTE LT LTE            ``$eq $ne $gt $gte $lt $lte``
IN, NIN                        ``$in``, ``$nin`` (a single value becomes a one-item list)
CONTAIN with a string          ``{"$or": [{a: {"$text_contains": v}}, {a: {"$contains": v}}]}``: a
                               substring of a string value, or an item of a list value (the
                               translator cannot know which the attribute holds)
CONTAIN with a number or bool  ``$contains``: an item of a list value
LIKE                           ``$text_contains``: a case-sensitive substring of a string value, as
                               most LangChain translators read LIKE (``%`` and ``_`` are plain
                               characters, not SQL wildcards)
=============================  ==========================================================================

Negations follow ragstore: ``NE``, ``NIN`` and ``NOT`` also match records that lack the attribute.
Dates, which the query constructor writes as ``{"type": "date", "date": "2024-01-31"}``, become the
string (equal to a date stored as that string; ragstore's ranges compare numbers only). The
structured query's ``limit`` is not part of the filter: ``SelfQueryRetriever`` passes it as ``k``.

Example:
    >>> from langchain_core.structured_query import Comparator, Comparison, Operation, Operator, StructuredQuery
    >>> draft = Comparison(comparator=Comparator.LIKE, attribute="title", value="draft")
    >>> no_drafts = Operation(operator=Operator.NOT, arguments=[draft])
    >>> RagstoreTranslator().visit_structured_query(StructuredQuery(query="hnsw", filter=no_drafts))
    ('hnsw', {'filter': {'$not': {'title': {'$text_contains': 'draft'}}}})

"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.structured_query import Comparator, Comparison, Operation, Operator, StructuredQuery, Visitor

_SAME_NAME = (Comparator.EQ, Comparator.NE, Comparator.GT, Comparator.GTE, Comparator.LT, Comparator.LTE, Comparator.IN, Comparator.NIN)
_DATE_TYPES = ("date", "datetime")


class RagstoreTranslator(Visitor):
    """Translate LangChain's structured queries into ragstore ``where`` filters (every operator and comparator).

    Give it to ``SelfQueryRetriever`` as ``structured_query_translator=RagstoreTranslator()`` (LangChain
    only picks a translator by itself for the stores it knows).

    Example:
        >>> from langchain_core.structured_query import Comparator, Comparison, Operation, Operator
        >>> translator = RagstoreTranslator()
        >>> new = Comparison(comparator=Comparator.GTE, attribute="year", value=2020)
        >>> nolan = Comparison(comparator=Comparator.CONTAIN, attribute="director", value="Nolan")
        >>> translator.visit_operation(Operation(operator=Operator.AND, arguments=[new, nolan]))  # doctest: +NORMALIZE_WHITESPACE
        {'$and': [{'year': {'$gte': 2020}},
                  {'$or': [{'director': {'$text_contains': 'Nolan'}}, {'director': {'$contains': 'Nolan'}}]}]}

    """

    allowed_operators: Sequence[Operator] | None = (Operator.AND, Operator.OR, Operator.NOT)
    allowed_comparators: Sequence[Comparator] | None = tuple(Comparator)

    def visit_operation(self, operation: Operation) -> dict[str, Any]:
        """Translate AND, OR and NOT over translated arguments.

        Raises:
            ValueError: The operation has no arguments, or its operator is not allowed.

        Example:
            >>> from langchain_core.structured_query import Comparator, Comparison, Operation, Operator
            >>> old = Comparison(comparator=Comparator.LT, attribute="year", value=2000)
            >>> RagstoreTranslator().visit_operation(Operation(operator=Operator.OR, arguments=[old]))
            {'year': {'$lt': 2000}}

        """
        self._validate_func(operation.operator)
        if not operation.arguments:
            raise ValueError(f"Expected {operation.operator.value.upper()} to have at least one argument")
        arguments = [argument.accept(self) for argument in operation.arguments]
        if operation.operator == Operator.NOT:
            return {"$not": arguments[0] if len(arguments) == 1 else {"$or": arguments}}
        # A plain ragstore $and / $or takes two or more; the query constructor's parser folds one-argument ones the same way.
        return arguments[0] if len(arguments) == 1 else {f"${operation.operator.value}": arguments}

    def visit_comparison(self, comparison: Comparison) -> dict[str, Any]:
        """Translate one comparison of an attribute (a metadata key) with a value.

        Raises:
            ValueError: The comparator is not allowed, LIKE was not given a string, or a comparator
                other than IN / NIN was given a list or another non-scalar value.

        Example:
            >>> from langchain_core.structured_query import Comparator, Comparison
            >>> RagstoreTranslator().visit_comparison(Comparison(comparator=Comparator.NIN, attribute="lang", value="fr"))
            {'lang': {'$nin': ['fr']}}

        """
        self._validate_func(comparison.comparator)
        comparator, key = comparison.comparator, comparison.attribute
        value = _plain(comparison.value)
        if comparator in (Comparator.IN, Comparator.NIN):
            values = [_plain(item) for item in value] if isinstance(value, (list, tuple)) else [value]
            return {key: {f"${comparator.value}": values}}
        if not isinstance(value, (str, int, float, bool)):
            raise ValueError(f"Expected {comparator.value.upper()} on {key!r} to compare with a string, number or bool, got {value!r}")
        if comparator in _SAME_NAME:
            return {key: {f"${comparator.value}": value}}
        if comparator == Comparator.LIKE:
            if not isinstance(value, str):
                raise ValueError(f"Expected LIKE on {key!r} to be given a string (a substring to find), got {value!r}")
            return {key: {"$text_contains": value}}
        if isinstance(value, str):  # CONTAIN with text: a substring of a string value or an item of a list value
            return {"$or": [{key: {"$text_contains": value}}, {key: {"$contains": value}}]}
        return {key: {"$contains": value}}

    def visit_structured_query(self, structured_query: StructuredQuery) -> tuple[str, dict[str, Any]]:
        """The query text and the search keyword arguments (``{"filter": where}``, or none without a filter).

        Example:
            >>> from langchain_core.structured_query import StructuredQuery
            >>> RagstoreTranslator().visit_structured_query(StructuredQuery(query="anything", filter=None, limit=3))
            ('anything', {})

        """
        if structured_query.filter is None:
            return structured_query.query, {}
        return structured_query.query, {"filter": structured_query.filter.accept(self)}


def _plain(value: Any) -> Any:
    """The value to compare with: a query constructor date (``{"type": "date", "date": "..."}``) becomes its string."""
    if isinstance(value, dict) and value.get("type") in _DATE_TYPES and isinstance(value.get(value["type"]), str):
        return value[value["type"]]
    return value
