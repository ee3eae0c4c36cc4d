"""chromadb's ``chromadb.config`` path: :class:`Settings` and the default tenant and database.

Code written for chromadb reaches its settings as ``chromadb.config.Settings``; after
``import ragstore as chromadb`` that attribute path lands here, and so does
``from ragstore.config import Settings``. The class is :class:`ragstore.Settings`
itself (one class, so ``isinstance`` and equality agree whichever path made it).

Example:
    >>> import ragstore as chromadb
    >>> settings = chromadb.config.Settings(allow_reset=True, anonymized_telemetry=False)
    >>> chromadb.config.Settings is chromadb.Settings
    True
    >>> chromadb.Client(settings).reset()
    True

"""

from __future__ import annotations

from ragstore.settings import Settings
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT

__all__ = ["DEFAULT_DATABASE", "DEFAULT_TENANT", "Settings"]
