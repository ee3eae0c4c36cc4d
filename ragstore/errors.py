"""The ragstore error tree.

Every error raised on purpose by ragstore derives from :class:`RagstoreError`.
Each class carries the HTTP status and the wire name it travels under (Chroma's
names, so chromadb clients understand a ragstore server), and the HTTP client
maps a server's ``{"error": name, "message": ...}`` back to the same class
through :func:`error_class_for`, a registry derived from the classes themselves.

::

    RagstoreError
    ├── InvalidArgumentError        (also ValueError)   400
    │   ├── DuplicateIDError                            400
    │   ├── InvalidDimensionException                   400
    │   ├── BatchSizeExceededError                      400
    │   ├── RequestTooLargeError                        413
    │   └── ResponseTooLargeError                       413
    ├── NotFoundError               (also ValueError)   404
    ├── UniqueConstraintError       (also ValueError)   409
    ├── AuthenticationError                             401 (403 for a wrong token)
    ├── AuthorizationError                              403
    ├── StorageError                                    507 (disk full, read-only store)
    ├── InternalError                                   500
    ├── ClosedError                                     500
    ├── UnimplementedError                              410 (Chroma's retired v1 API)
    └── ServerConnectionError       (also ConnectionError) no server answered

Validation errors are also ``ValueError`` so code written as
``except ValueError`` against chromadb keeps working.

Example:
    >>> import ragstore
    >>> try:
    ...     ragstore.Client().get_collection("missing")
    ... except ragstore.NotFoundError as exc:
    ...     print(exc)
    Collection [missing] does not exist

"""

from __future__ import annotations


class RagstoreError(Exception):
    """Base class of every error ragstore raises on purpose."""

    status_code: int = 500
    wire_name: str = "ChromaError"
    #: The server's ``chroma-trace-id`` for an error that came over HTTP (chromadb's client sets the same attribute):
    #: the id the server's access log line carries, so an error a user reports can be found in the server's log.
    trace_id: str | None = None

    @classmethod
    def name(cls) -> str:
        """The error's name on the wire (Chroma's name where Chroma has one)."""
        return cls.wire_name

    def code(self) -> int:
        """The HTTP status code this error is sent with."""
        return self.status_code

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str(self.args[0]) if self.args else ""


class InvalidArgumentError(RagstoreError, ValueError):
    """An argument is malformed; nothing was changed."""

    status_code = 400
    wire_name = "InvalidArgumentError"


class DuplicateIDError(InvalidArgumentError):
    """The same id appears twice in one call."""

    wire_name = "DuplicateID"


class InvalidDimensionException(InvalidArgumentError):  # noqa: N818 - chromadb's name
    """An embedding's dimension differs from the collection's."""

    wire_name = "InvalidDimension"


class BatchSizeExceededError(InvalidArgumentError):
    """A call carries more records than ``get_max_batch_size()`` allows."""

    wire_name = "BatchSizeExceededError"


class RequestTooLargeError(InvalidArgumentError):
    """An HTTP request body is larger than the server accepts (``--max-body-size``)."""

    status_code = 413
    wire_name = "RequestTooLarge"


class ResponseTooLargeError(InvalidArgumentError):
    """The answer to a ``get`` or ``query`` is over the server's budget (``ragstore run --max-response-size``); nothing was sent."""

    status_code = 413
    wire_name = "ResponseTooLarge"


class NotFoundError(RagstoreError, ValueError):
    """A collection, tenant or database does not exist."""

    status_code = 404
    wire_name = "NotFoundError"


class UniqueConstraintError(RagstoreError, ValueError):
    """A collection (or tenant, database) with that name already exists."""

    status_code = 409
    wire_name = "UniqueConstraintError"


class AuthenticationError(RagstoreError):
    """The server wants a token and got none (401) or a wrong one (403)."""

    status_code = 401
    wire_name = "AuthError"


class AuthorizationError(RagstoreError):
    """The operation is not allowed by configuration (for example ``reset``)."""

    status_code = 403
    wire_name = "AuthorizationError"


class StorageError(RagstoreError):
    """The store cannot take a write: its disk is full or it is read-only. Nothing was changed.

    507 (Insufficient Storage): the server cannot store what the request asks it to; the
    request itself is fine and may succeed once space is freed or the store is writable.
    """

    status_code = 507
    wire_name = "StorageError"


class InternalError(RagstoreError):
    """An unexpected failure inside the engine."""

    status_code = 500
    wire_name = "InternalError"


class ClosedError(RagstoreError):
    """The client (or engine) was closed and cannot be used any more."""

    status_code = 500
    wire_name = "ClosedError"


class UnimplementedError(RagstoreError):
    """The server does not offer this route (Chroma's retired ``/api/v1``); nothing was done."""

    status_code = 410
    wire_name = "Unimplemented"


class ServerConnectionError(RagstoreError, ConnectionError):
    """No ragstore server answered at the client's address (refused, unresolvable or timed out)."""

    status_code = 503
    wire_name = "ServerUnavailable"


def _all_subclasses(cls: type[RagstoreError]) -> list[type[RagstoreError]]:
    found: list[type[RagstoreError]] = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def error_classes() -> list[type[RagstoreError]]:
    """Every error class of the tree, root first.

    Example:
        >>> NotFoundError in error_classes()
        True

    """
    return _all_subclasses(RagstoreError)


def error_class_for(wire_name: str) -> type[RagstoreError]:
    """The error class sent under ``wire_name``; the root class when unknown.

    Example:
        >>> error_class_for("NotFoundError") is NotFoundError
        True

    """
    for cls in error_classes():
        if cls.wire_name == wire_name:
            return cls
    return RagstoreError
