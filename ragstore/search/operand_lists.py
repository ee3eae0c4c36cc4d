"""Nodes over a list of operands: chromadb's ``$sum``/``$mul``/``$max``/``$min`` ranks and ``$and``/``$or`` conditions.

Both families serialise as ``{op: [operand, ...]}`` and flatten when combined: ``a + b + c``
is one ``Sum`` of three terms and ``w1 & w2 & w3`` one ``And`` of three conditions, as
chromadb builds them. :class:`OperandList` does both once; each family's base names the
dataclass field chromadb gives the list (``ranks``, ``conditions``).

Example:
    >>> from ragstore.search import K, Val
    >>> (Val(1) + Val(2) + Val(3)).to_dict()
    {'$sum': [{'$val': 1}, {'$val': 2}, {'$val': 3}]}
    >>> len(((K("a") == 1) & (K("b") == 2) & (K("c") == 3)).conditions)
    3

"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self


class OperandList:
    """Mixin of an operator node whose operands are one list field (see the module docstring)."""

    _op: ClassVar[str]  # the wire name: "$sum", "$and", ...
    _operands: ClassVar[str]  # the dataclass field holding the list: "ranks", "conditions"

    if TYPE_CHECKING:  # the dataclasses built on this mixin take their list as the one argument

        def __init__(self, operands: list[Any], /) -> None: ...

    def operands(self) -> list[Any]:
        """The operand list (the field ``_operands`` names)."""
        operands: list[Any] = getattr(self, self._operands)
        return operands

    def to_dict(self) -> dict[str, Any]:
        """``{op: [...]}``."""
        return {self._op: [operand.to_dict() for operand in self.operands()]}

    @classmethod
    def _flattened(cls, left: Any, right: Any) -> Self:
        """``cls`` over the operands of both sides, a side that is itself a ``cls`` giving its own (chromadb's flattening)."""
        left_operands = left.operands() if isinstance(left, cls) else [left]
        right_operands = right.operands() if isinstance(right, cls) else [right]
        return cls(left_operands + right_operands)
