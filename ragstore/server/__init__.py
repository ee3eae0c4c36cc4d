"""Server side of HTTP mode: Chroma's REST v2 API over one :class:`~ragstore.api.API` (FastAPI on uvicorn).

``ragstore run`` serves a ``LocalAPI``; the app itself depends only on the protocol.

Needs the ``server`` extra (``pip install "ragstore[server]"``); start it with
``ragstore run --path ./ragstore_data``.

Example:
    >>> from ragstore.local import LocalAPI
    >>> from ragstore.server import create_app
    >>> create_app(LocalAPI(None)).openapi()["info"]["title"]
    'ragstore'

"""

from __future__ import annotations

from ragstore.server.app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
