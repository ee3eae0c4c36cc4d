"""Observability of a real ``ragstore run``: ``/metrics`` parsed with prometheus_client's own parser,
access log lines (text and JSON), and the request id in ``chroma-trace-id`` that chromadb 1.5.9's
client attaches to the error it raises.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import chromadb.errors
import httpx
import pytest
from chromadb.config import Settings as ChromaSettings
from chromadb_sessions import chromadb_sessions_closed
from prometheus_client.parser import text_string_to_metric_families
from servers import RunningServer

import ragstore
from ragstore.embeddings import HashingEmbeddingFunction
from ragstore.http.wire import API_PREFIX
from ragstore.server import ServerConfig, create_app
from ragstore.server.metrics import UNMATCHED

TOKEN = "metrics-s3cret"
HERMETIC = {
    name: ""
    for name in (
        "RAGSTORE_AUTH_TOKEN_FILE",
        "RAGSTORE_LOG_FORMAT",
        "RAGSTORE_ACCESS_LOG",
        "RAGSTORE_METRICS_PUBLIC",
        "RAGSTORE_ALLOW_HOSTS",
    )
}  # empty means unset: the environment never decides for a test
BEARER = {"Authorization": f"Bearer {TOKEN}"}
COLLECTIONS = f"{API_PREFIX}/tenants/default_tenant/databases/default_database/collections"
RECORD_ROUTE = f"{API_PREFIX}/tenants/{{tenant}}/databases/{{database}}/collections/{{collection_id}}"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: RunningServer, headers: dict[str, str] | None = None) -> Samples:
    """Every sample of ``/metrics``, parsed by prometheus_client, keyed by (name, labels)."""
    answer = httpx.get(f"{server.url}/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def access_lines(server: RunningServer) -> list[dict[str, str]]:
    """The text access lines printed so far, as dicts of their ``key=value`` fields."""
    return [dict(field.split("=", 1) for field in line.split()) for line in server.output if line.startswith("trace_id=")]


def access_line(server: RunningServer, trace_id: str) -> dict[str, str]:
    """The one access line of ``trace_id``, waiting for it: it is written once the answer has been sent."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [line for line in access_lines(server) if line["trace_id"] == trace_id]
        if found:
            [line] = found
            return line
        time.sleep(0.02)
    raise AssertionError(f"no access line for {trace_id}: {server.output}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A store with a token and the access log on, in text."""
    with RunningServer.start(tmp_path_factory.mktemp("metrics"), ["--access-log"], env=HERMETIC, auth_token=TOKEN) as running:
        yield running


def test_metrics_count_requests_by_route_template_status_and_latency(server: RunningServer) -> None:
    client = server.client()
    collection = client.create_collection("counted", embedding_function=HashingEmbeddingFunction(dim=8))
    collection.add(ids=[f"r{i}" for i in range(5)], documents=[f"document {i}" for i in range(5)])
    for _ in range(3):
        collection.query(query_texts=["document"], n_results=2)
    client.close()
    httpx.get(f"{server.url}/wp-login.php", headers=BEARER)  # a scanner's guess: no label of its own
    httpx.get(f"{server.url}{COLLECTIONS}/nobody", headers=BEARER)

    samples = scrape(server, BEARER)

    query = {"method": "POST", "route": f"{RECORD_ROUTE}/query"}
    assert value(samples, "ragstore_http_requests_total", **query, status="200") == 3
    assert value(samples, "ragstore_http_request_duration_seconds_count", **query) == 3
    assert 0 < value(samples, "ragstore_http_request_duration_seconds_sum", **query) < 30
    assert value(samples, "ragstore_http_requests_total", method="POST", route=f"{RECORD_ROUTE}/add", status="201") == 1
    by_name = f"{API_PREFIX}/tenants/{{tenant}}/databases/{{database}}/collections/{{name}}"
    assert value(samples, "ragstore_http_requests_total", method="GET", route=by_name, status="404") == 1
    assert value(samples, "ragstore_http_requests_total", method="GET", route=UNMATCHED, status="404") == 1
    routes = {dict(labels).get("route", "") for name, labels in samples if name == "ragstore_http_requests_total"}
    assert not any("counted" in route or "nobody" in route or "wp-login" in route for route in routes), routes
    # The store as SQLite holds it, and the process.
    assert value(samples, "ragstore_records") == 5
    assert value(samples, "ragstore_collections") == 1
    assert value(samples, "ragstore_tenants") == 1 and value(samples, "ragstore_databases") == 1
    assert value(samples, "ragstore_store_bytes") > 0
    assert value(samples, "ragstore_index_pending_records") <= 5 and ("ragstore_index_unsaved_collections", frozenset()) in samples
    assert value(samples, "process_resident_memory_bytes") > 10_000_000
    assert value(samples, "ragstore_http_requests_in_progress") == 1  # the scrape itself


def test_the_store_gauges_follow_writes_and_deletes(server: RunningServer) -> None:
    client = server.client()
    collection = client.get_or_create_collection("gauged", embedding_function=HashingEmbeddingFunction(dim=8))
    before = scrape(server, BEARER)
    collection.add(ids=["a", "b", "c"], documents=["x", "y", "z"])
    collection.delete(ids=["a"])
    client.close()
    after = scrape(server, BEARER)
    assert value(after, "ragstore_records") - value(before, "ragstore_records") == 2
    assert value(after, "ragstore_tombstones") >= value(before, "ragstore_tombstones")


def test_metrics_need_the_token_and_refusals_are_counted(server: RunningServer) -> None:
    refused = httpx.get(f"{server.url}/metrics")
    assert refused.status_code == 401 and len(refused.headers["chroma-trace-id"]) == 32
    assert httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    samples = scrape(server, BEARER)
    assert value(samples, "ragstore_http_requests_total", method="GET", route="/metrics", status="401") >= 1
    assert value(samples, "ragstore_http_requests_total", method="GET", route="/metrics", status="403") >= 1


def test_chromadb_errors_carry_the_trace_id_of_the_access_line(server: RunningServer) -> None:
    settings = ChromaSettings(
        anonymized_telemetry=False,
        chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
        chroma_client_auth_credentials=TOKEN,
    )
    with chromadb_sessions_closed():
        client = chromadb.HttpClient(host=server.host, port=server.port, settings=settings)
        with pytest.raises(chromadb.errors.NotFoundError) as raised:
            client.get_collection("never-created")
        client.close()
    trace_id = raised.value.trace_id
    assert trace_id is not None and len(trace_id) == 32 and int(trace_id, 16) >= 0
    line = access_line(server, trace_id)
    assert line["status"] == "404" and line["method"] == "GET"
    assert line["path"] == f"{COLLECTIONS}/never-created"
    assert line["route"] == f"{API_PREFIX}/tenants/{{tenant}}/databases/{{database}}/collections/{{name}}"
    assert float(line["duration_ms"]) > 0 and int(line["bytes"]) > 0 and line["client"] == "127.0.0.1"


def test_ragstore_clients_errors_carry_the_trace_id_of_the_access_line(server: RunningServer) -> None:
    client = server.client()
    with pytest.raises(ragstore.NotFoundError) as raised:
        client.get_collection("never-created")
    client.close()
    assert access_line(server, str(raised.value.trace_id))["status"] == "404"

    async def refused_asynchronously() -> ragstore.RagstoreError:
        async_client = await ragstore.AsyncHttpClient(host=server.host, port=server.port, headers=BEARER)
        try:
            await async_client.get_collection("never-created")
        except ragstore.NotFoundError as error:
            return error
        finally:
            await async_client.close()
        raise AssertionError("get_collection found a collection never created")

    error = asyncio.run(refused_asynchronously())
    assert error.trace_id != raised.value.trace_id
    assert access_line(server, str(error.trace_id))["status"] == "404"
    with pytest.raises(ragstore.NotFoundError) as local:
        ragstore.Client().get_collection("never-created")
    assert local.value.trace_id is None  # no server, no request id


def test_every_answer_has_its_own_id_or_the_callers_trace(server: RunningServer) -> None:
    ids = {httpx.get(f"{server.url}{API_PREFIX}/heartbeat").headers["chroma-trace-id"] for _ in range(5)}
    assert len(ids) == 5
    traced = httpx.get(f"{server.url}{API_PREFIX}/heartbeat", headers={"traceparent": TRACEPARENT})
    assert traced.headers["chroma-trace-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    bogus = httpx.get(f"{server.url}{API_PREFIX}/heartbeat", headers={"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"})
    assert bogus.headers["chroma-trace-id"] != "0" * 32
    for trace_id in [*ids, "4bf92f3577b34da6a3ce929d0e0e4736"]:
        assert access_line(server, trace_id)["route"] == f"{API_PREFIX}/heartbeat"


def test_a_path_cannot_break_the_access_line(server: RunningServer) -> None:
    answer = httpx.get(f"{server.url}/a%20b%0aFAKE=1", headers=BEARER)
    line = access_line(server, answer.headers["chroma-trace-id"])
    assert line["path"] == "/a%20b%0aFAKE=1" and "FAKE" not in line


def test_metrics_public_opens_only_metrics(tmp_path: Path) -> None:
    with RunningServer.start(tmp_path, ["--metrics-public"], env=HERMETIC, auth_token=TOKEN) as server:
        assert value(scrape(server), "ragstore_collections") == 0
        assert httpx.get(f"{server.url}{COLLECTIONS}").status_code == 401
        assert server.output == [line for line in server.output if "serving" in line], "no access log unless asked"


def test_json_access_log(tmp_path: Path) -> None:
    with RunningServer.start(tmp_path, ["--access-log", "--log-format", "json"], env=HERMETIC) as server:
        answer = httpx.get(f"{server.url}{COLLECTIONS}")
        assert answer.status_code == 200
        httpx.post(f"{server.url}{COLLECTIONS}", content=b"{", headers={"Content-Type": "application/json"})
    lines = [json.loads(line) for line in server.output if line.startswith("{")]
    assert [line["status"] for line in lines] == [200, 400]
    first = lines[0]
    assert first["logger"] == "ragstore.access" and first["level"] == "info"
    assert first["trace_id"] == answer.headers["chroma-trace-id"]
    assert first["route"] == f"{API_PREFIX}/tenants/{{tenant}}/databases/{{database}}/collections"
    assert first["time"].endswith("Z") and isinstance(first["duration_ms"], float)


def test_an_app_with_metrics_off_has_no_route() -> None:
    from starlette.testclient import TestClient

    from ragstore.local import LocalAPI

    with TestClient(create_app(LocalAPI(None), ServerConfig(metrics=False))) as client:
        answer = client.get("/metrics")
        assert answer.status_code == 404 and len(answer.headers["chroma-trace-id"]) == 32


def test_index_state_counts_records_the_saved_index_lacks(tmp_path: Path) -> None:
    import ragstore
    from ragstore.server.metrics import ServerMetrics

    def index_state() -> tuple[float, float]:
        families = text_string_to_metric_families(metrics.render().decode())
        found = {sample.name: sample.value for family in families for sample in family.samples}
        return found["ragstore_index_pending_records"], found["ragstore_index_unsaved_collections"]

    metrics = ServerMetrics(tmp_path)
    client = ragstore.PersistentClient(tmp_path)
    client.create_collection("indexed").add(ids=["a", "b"], embeddings=[[1.0, 2.0], [3.0, 4.0]])
    assert index_state() == (2, 1)  # nothing saved yet: a restart rebuilds from SQLite
    client.close()  # saves the index
    assert index_state() == (0, 0)
    client = ragstore.PersistentClient(tmp_path)
    client.get_collection("indexed").add(ids=["c"], embeddings=[[5.0, 6.0]])
    assert index_state() == (1, 0)
    client.close()
    assert index_state() == (0, 0)
