"""chromadb's ``chromadb.utils`` path, for code written against chromadb.

Only :mod:`ragstore.utils.embedding_functions` lives here: it exists so that
``chromadb.utils.embedding_functions.<Name>`` keeps working after
``import ragstore as chromadb``. ragstore's own modules never import from here.

Example:
    >>> import ragstore as chromadb
    >>> chromadb.utils.embedding_functions.DefaultEmbeddingFunction()
    DefaultEmbeddingFunction()

"""

from __future__ import annotations

from ragstore.utils import embedding_functions

__all__ = ["embedding_functions"]
