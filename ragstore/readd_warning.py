"""The warning an ``add`` logs when some of its ids exist already (they are skipped, not overwritten).

chromadb 0.4 to 0.6 logged ``Add of existing embedding ID: <id>`` once per id, from the process
that held the index (the server's log, for an HTTP client); chromadb 1.5.9's embedded clients log
nothing. ragstore logs once per ``add`` call, at WARNING on the logger ``ragstore.collection``,
naming the ids in the caller's order, chromadb's words first so log filters written for them still
match. It is logged where the skipped ids are known without another read: by the collection when
it reads which ids exist to avoid embedding them (an add with documents and no embeddings, in the
caller's process in every mode), otherwise by the engine while it writes (the caller's process
embedded, the server's log over HTTP, as chromadb 0.x did).

Example:
    >>> import logging, sys
    >>> shown = logging.StreamHandler(sys.stdout)
    >>> logger.addHandler(shown)
    >>> warn_existing(["a", "b", "c"], {"c", "a"})
    Add of existing embedding ID: a, c (2 of 3 ids; add skips existing ids, upsert overwrites them)
    >>> logger.removeHandler(shown)

"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

logger = logging.getLogger("ragstore.collection")  # Collection.add's logger, wherever the warning is raised

SHOWN_IDS = 10  # ids a warning names before "and N more"


def warn_existing(ids: Sequence[str], existing: Iterable[str]) -> None:
    """Log one warning when an ``add`` of ``ids`` finds some ``existing`` (nothing when none exists)."""
    found = set(existing)
    if not found:
        return
    named = [id_ for id_ in ids if id_ in found]
    shown = ", ".join(named[:SHOWN_IDS]) + (f" and {len(named) - SHOWN_IDS} more" if len(named) > SHOWN_IDS else "")
    message = "Add of existing embedding ID: %s (%d of %d ids; add skips existing ids, upsert overwrites them)"
    logger.warning(message, shown, len(named), len(ids))
