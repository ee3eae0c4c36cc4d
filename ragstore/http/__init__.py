"""Client side of HTTP mode: Chroma's REST v2 wire format and the httpx-based engine seam.

Example:
    >>> from ragstore.http import HttpAPI
    >>> HttpAPI("http://localhost:8000").base_url
    'http://localhost:8000'

"""

from __future__ import annotations

from ragstore.http.async_client import AsyncHttpAPI
from ragstore.http.client import HttpAPI

__all__ = ["AsyncHttpAPI", "HttpAPI"]
