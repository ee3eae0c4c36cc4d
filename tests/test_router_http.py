"""The sharded router's own HTTP server (``ragstore.distributed.router_http``), without Ray.

It serves ragstore's app as ``ragstore run`` does (the app's lifespan closes the store when it stops), frees
its port when stopped (a router Serve restarts listens on the same address again), and a taken address is a
clear error at start.
"""

from __future__ import annotations

import httpx
import pytest

from ragstore.distributed.router_http import RouterHttp
from ragstore.distributed.sharded_api import ShardedAPI
from ragstore.local import LocalAPI
from ragstore.server.app import ServerConfig, create_app
from ragstore.server.run import StartupError


def test_serves_the_app_and_listens_again_on_the_same_port_after_stop() -> None:
    api = ShardedAPI([LocalAPI(None), LocalAPI(None)])
    app = create_app(api, ServerConfig(auth_token="t0ken"))
    first = RouterHttp(app, "127.0.0.1", 0)
    headers = {"Authorization": "Bearer t0ken"}
    assert httpx.get(f"{first.url}/api/v2/heartbeat").status_code == 200
    made = httpx.post(f"{first.url}/api/v2/tenants/default_tenant/databases/default_database/collections", json={"name": "docs"})
    assert made.status_code == 401  # the app's guards hold
    made = httpx.post(
        f"{first.url}/api/v2/tenants/default_tenant/databases/default_database/collections", json={"name": "docs"}, headers=headers
    )
    assert made.status_code == 200, made.text
    first.stop()
    assert not first.alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{first.url}/api/v2/heartbeat")
    port = int(first.url.rsplit(":", 1)[1])
    again = ShardedAPI([LocalAPI(None)])
    second = RouterHttp(create_app(again, ServerConfig(auth_token="t0ken")), "127.0.0.1", port)  # what a restarted router does
    assert second.url == first.url
    assert httpx.get(f"{second.url}/api/v2/heartbeat").status_code == 200
    with pytest.raises(StartupError, match="cannot listen"):
        RouterHttp(None, "127.0.0.1", port)  # taken
    second.stop()
