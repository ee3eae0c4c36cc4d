"""Name rules for collections, tenants and databases (chromadb's).

Example:
    >>> validate_collection_name("my.docs-1")
    'my.docs-1'

"""

from __future__ import annotations

import ipaddress
import re
import reprlib
from typing import Any

from ragstore.errors import InvalidArgumentError

COLLECTION_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$"
_NAME_RE = re.compile(COLLECTION_NAME_PATTERN)


def _short(value: Any) -> str:
    return reprlib.repr(value)


def validate_collection_name(name: Any) -> str:
    """Check a collection name against chromadb's rules.

    3-512 characters of ``[a-zA-Z0-9._-]``, starting and ending alphanumeric,
    no ``..``, not an IPv4 address.

    Example:
        >>> validate_collection_name("my.docs-1")
        'my.docs-1'

    """
    if not isinstance(name, str):
        raise InvalidArgumentError(f"Expected collection name to be a str, got {_short(name)} which is a {type(name).__name__}")
    prefix = "Validation error: name: "
    if not _NAME_RE.match(name):
        raise InvalidArgumentError(
            prefix + "Expected a name containing 3-512 characters from [a-zA-Z0-9._-], "
            f"starting and ending with a character in [a-zA-Z0-9]. Got: {name}"
        )
    if ".." in name:
        raise InvalidArgumentError(prefix + f"Expected a name that does not contains two consecutive periods (..). Got {name}")
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return name
    raise InvalidArgumentError(prefix + f"Expected a name that is not a valid ip address. Got {name}")


def validate_tenant_or_database_name(name: Any, kind: str) -> str:
    """Check a tenant name (3-512 characters) or a database name (a collection name's rules, as chromadb).

    Example:
        >>> validate_tenant_or_database_name("acme", "tenant")
        'acme'

    """
    if not isinstance(name, str) or not 3 <= len(name) <= 512:
        raise InvalidArgumentError(f"Validation error: name: Expected {kind} name to be a str of 3-512 characters, got {_short(name)}")
    if kind == "database":
        validate_collection_name(name)
    return name
