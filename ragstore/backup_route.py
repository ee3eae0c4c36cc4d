"""The server's backup route: ``POST /api/v2/ragstore/backups`` snapshots the served store (see :mod:`ragstore.backup`).

A client names the backup, never a path: backups go into one folder the operator chose when
mounting the router (as Qdrant keeps its snapshots in one folder), so a token holder cannot
write anywhere else on the server's disk. The route sits behind the app's token check like
every other route (:class:`ragstore.server.security.TokenAuth` guards every path outside its
open ones), and its answers name no server path.

``GET /api/v2/ragstore/backups`` lists the backups in that folder. There is no restore route:
restoring replaces the files the server itself is serving (stop it, ``ragstore restore``).

Mounting (the server needs the server extra, FastAPI)::

    app = create_app(LocalAPI(path), config)
    app.include_router(backup_router(Path("/var/backups/ragstore")))

Example:
    >>> sorted(route.path for route in backup_router(Path("/tmp")).routes)
    ['/api/v2/ragstore/backups', '/api/v2/ragstore/backups']

"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ragstore.backup import MANIFEST_FILENAME, BackupReport, backup
from ragstore.errors import InvalidArgumentError, StorageError, UnimplementedError, UniqueConstraintError
from ragstore.http.wire import API_PREFIX
from ragstore.server.handlers import call, engine, json_response, read_object

BACKUPS_PATH = "/ragstore/backups"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

logger = logging.getLogger("ragstore.backup")


def backup_router(root: Path) -> APIRouter:
    """A router whose routes back up the served store into ``root`` (created on first use).

    Args:
        root: The folder backups go into, one subfolder per backup name.

    Example:
        >>> backup_router(Path("/tmp")).prefix
        '/api/v2'

    """
    router = APIRouter(prefix=API_PREFIX, tags=["backup"])

    @router.post(BACKUPS_PATH, summary="Back up the store (ragstore extension)")
    async def create_backup(request: Request) -> Response:
        """Snapshot the store into the backup folder under the name the body gives: ``{"name": "nightly-1"}``."""
        body = await read_object(request, "backup request")
        name = body.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
            raise InvalidArgumentError("A backup needs a 'name' of 1-128 characters from [A-Za-z0-9._-], starting with a letter or digit")
        store = getattr(engine(request), "path", None)
        if not isinstance(store, Path):
            raise UnimplementedError("Only a store on disk can be backed up (this server serves one in memory)")
        report = await call(_backup, store, root, name)
        return json_response({"name": name, "collections": report.collections, "records": report.records, "indexes": report.indexes})

    @router.get(BACKUPS_PATH, summary="List the backups (ragstore extension)")
    async def list_backups(request: Request) -> Response:
        """The names of the finished backups in the backup folder, sorted."""
        names = await call(_finished, root)
        return json_response({"backups": names})

    return router


def _backup(store: Path, root: Path, name: str) -> BackupReport:
    """Back up ``store`` as ``root / name``; errors say no server path (the full one goes to the log)."""
    if (root / name).exists():
        raise UniqueConstraintError(f"A backup named {name!r} exists already")
    try:
        return backup(store, root / name)
    except StorageError as exc:
        logger.warning("Backup %r failed: %s", name, exc)
        reason = "the disk holding the backups is full" if "disk is full" in str(exc) else "the backup folder cannot be written"
        raise StorageError(f"Backup {name!r} failed: {reason}; nothing was kept") from exc


def _finished(root: Path) -> list[str]:
    try:
        return sorted(entry.name for entry in root.iterdir() if (entry / MANIFEST_FILENAME).is_file())
    except FileNotFoundError:
        return []
