"""``Cmek``: chromadb's customer-managed encryption key, so schemas that name one read and serialise the same.

ragstore stores data in local SQLite and index files that it does not encrypt, so creating
a collection whose schema carries a key is refused (see :mod:`ragstore.collection_schema.reconcile`).

Example:
    >>> key = Cmek.gcp("projects/p/locations/l/keyRings/r/cryptoKeys/k")
    >>> key.validate_pattern(), key.to_dict()
    (True, {'gcp': 'projects/p/locations/l/keyRings/r/cryptoKeys/k'})
    >>> Cmek.from_dict(key.to_dict()) == key
    True

"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from typing import Any

from ragstore.errors import InvalidArgumentError

_GCP_PATTERN = re.compile(r"^projects/.+/locations/.+/keyRings/.+/cryptoKeys/.+$")


class CmekProvider(str, enum.Enum):
    """The key's cloud provider (chromadb knows Google Cloud only)."""

    GCP = "gcp"


@dataclasses.dataclass
class Cmek:
    """A provider and the provider's name for the key."""

    provider: CmekProvider
    resource: str

    @classmethod
    def gcp(cls, resource: str) -> Cmek:
        """A Google Cloud KMS key (``projects/{p}/locations/{l}/keyRings/{r}/cryptoKeys/{k}``)."""
        return cls(provider=CmekProvider.GCP, resource=resource)

    def validate_pattern(self) -> bool:
        """Whether the resource name has the provider's format (the key itself is not looked up)."""
        return self.provider == CmekProvider.GCP and _GCP_PATTERN.match(self.resource) is not None

    def to_dict(self) -> dict[str, Any]:
        """The wire form, ``{"gcp": resource}``."""
        return {"gcp": self.resource}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cmek:
        """The inverse of :meth:`to_dict`."""
        if isinstance(data, Mapping) and "gcp" in data:
            if not isinstance(data["gcp"], str):
                raise InvalidArgumentError(f"CMEK gcp resource must be a string, got: {type(data['gcp'])}")
            return cls.gcp(data["gcp"])
        raise InvalidArgumentError(f"Unsupported or missing CMEK provider in data: {data}")
