"""What creating or changing a collection asks of an engine, checked once and carried across the API.

As with :mod:`ragstore.record_requests`, a client builds the request, the engine takes
it, and the HTTP client and server move it as JSON (:meth:`to_json` / :meth:`from_json`),
so a name, metadata or flag is checked by one set of rules in every mode. The
configuration's contents (HNSW keys and their ranges) are checked where defaults are
applied, by :mod:`ragstore.configuration`, and a schema's (chromadb's JSON form) where it
meets the configuration, by :mod:`ragstore.collection_schema.reconcile`.

Example:
    >>> request = CreateCollectionRequest("docs", metadata={"topic": "fruit"}, get_or_create=True)
    >>> CreateCollectionRequest.from_json(request.to_json(), request.tenant, request.database) == request
    True
    >>> CreateCollectionRequest("x")
    Traceback (most recent call last):
    ...
    ragstore.errors.InvalidArgumentError: Validation error: name: Expected a name containing 3-512 characters ...

"""

from __future__ import annotations

import dataclasses
from typing import Any

from ragstore.collection_schema.validation import check_schema_json
from ragstore.errors import InvalidArgumentError
from ragstore.metadata_validation import validate_collection_metadata
from ragstore.names import validate_collection_name
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT


def _configuration(value: Any, what: str = "configuration") -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise InvalidArgumentError(f"Expected {what} to be an object, got {type(value).__name__}")
    return value


@dataclasses.dataclass(frozen=True)
class CreateCollectionRequest:
    """A new collection in ``tenant``/``database`` (``get_or_create`` returns an existing one instead).

    ``schema`` is chromadb's ``Schema.serialize_to_json()`` form (the client serialises its
    ``Schema``; embedding functions travel as their names and configs).
    """

    name: str
    configuration: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    get_or_create: bool = False
    tenant: str = DEFAULT_TENANT
    database: str = DEFAULT_DATABASE
    schema: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.get_or_create, bool):
            raise InvalidArgumentError(f"Expected get_or_create to be a boolean, got {type(self.get_or_create).__name__}")
        _configuration(self.configuration)
        if _configuration(self.schema, "schema") is not None:
            check_schema_json(self.schema)
        validate_collection_name(self.name)
        object.__setattr__(self, "metadata", validate_collection_metadata(self.metadata))

    def to_json(self) -> dict[str, Any]:
        """The body of ``POST .../collections`` (the scope is in the path)."""
        return {
            "name": self.name,
            "configuration": self.configuration,
            "metadata": self.metadata,
            "get_or_create": self.get_or_create,
            "schema": self.schema,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], tenant: str, database: str) -> CreateCollectionRequest:
        """A create body (untrusted) for the scope its path names."""
        return cls(
            data.get("name"),  # type: ignore[arg-type]
            data.get("configuration"),
            data.get("metadata"),
            data.get("get_or_create", False),
            tenant,
            database,
            data.get("schema"),
        )


@dataclasses.dataclass(frozen=True)
class ModifyCollectionRequest:
    """A new name, new metadata (replacing the old) or new search-time configuration; ``None`` changes nothing.

    Example:
        >>> ModifyCollectionRequest(new_configuration={"hnsw": {"ef_search": 200}}).to_json()["new_configuration"]
        {'hnsw': {'ef_search': 200}}

    """

    new_name: str | None = None
    new_metadata: dict[str, Any] | None = None
    new_configuration: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.new_name is not None:
            validate_collection_name(self.new_name)
        object.__setattr__(self, "new_metadata", validate_collection_metadata(self.new_metadata))
        _configuration(self.new_configuration)

    def to_json(self) -> dict[str, Any]:
        """The body of ``PUT .../collections/{id}``."""
        return {"new_name": self.new_name, "new_metadata": self.new_metadata, "new_configuration": self.new_configuration}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModifyCollectionRequest:
        """A modify body (untrusted)."""
        configuration = data.get("new_configuration")
        if isinstance(configuration, dict) and "spann" in configuration and configuration["spann"] is None:
            # chromadb's client always sends ``"spann": null`` here; like ``chroma run``, read it as "no change".
            configuration = {k: v for k, v in configuration.items() if k != "spann"}
        return cls(data.get("new_name"), data.get("new_metadata"), configuration)
