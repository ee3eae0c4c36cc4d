"""A bounded fuzz run over the server's own OpenAPI document, against a real ``ragstore run``.

schemathesis reads ``/openapi.json`` from a ``ragstore run`` child process on
127.0.0.1 (token auth on through ``RAGSTORE_AUTH_TOKEN``, reset allowed) and
sends, for every documented operation, up to :data:`EXAMPLES` schema-valid
requests (:data:`RECORD_EXAMPLES` on the six record routes) and, where a query
or body can be made invalid, up to :data:`EXAMPLES` schema-invalid ones: about
380 requests. Path parameters mostly name the seeded scope and collections (a
schemathesis dictionary); valid bodies often carry ids, vectors and filters
(Chroma's grammar) that fit the seeded collections (:func:`fit_to_seeds`); and
integer parameters sometimes carry boundary values (2**31, 2**63, 2**64,
negatives): so requests reach the engine instead of stopping at a 404 or a
dimension check.

What is checked on every response (the server's promises, nothing more):

- no 5xx (schemathesis ``not_a_server_error``); afterwards the process is alive,
  logged no traceback, and serves a store seeded again;
- the status is one the document lists for the operation (``status_code_conformance``:
  its 200/201 and ``4XX``);
- the body is JSON as documented (``content_type_conformance``) and matches the
  documented model: the 2xx models and the ``Error`` model for a 4xx
  (``response_schema_conformance``);
- every 4xx body is exactly Chroma's ``{"error": str, "message": str}``, and its
  name is one ragstore's clients map back to a typed error (:func:`chroma_error_shape`);
- a request the document calls invalid is refused with a 4xx (``negative_data_rejection``).

Not checked: that every schema-valid request is accepted (the document is looser
than the server's rules, so such requests rightly get 400), and the ``Allow``
header of a 405 (no operation is sent an undocumented method).

Bounds: at most :data:`RECORD_EXAMPLES` cases per operation and mode, 10 s per
request, :data:`BUDGET_SECONDS` for the run (past it the test fails).
Determinism: hypothesis is derandomized with no example database, and the
constants it caches from local modules go to ``tmp_path`` (nothing is written
outside it); failures are collected, not shrunk; operations run in a fixed
order, the destructive ones (collection and database deletes, reset) last. The
cases depend on the document and on the source of the imported local modules
(hypothesis draws constants from them): one tree always sends the same requests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir, storage_directory
from schemathesis.errors import FailureGroup

from ragstore.errors import error_class_for
from ragstore.http.wire import API_PREFIX
from tests.servers import RunningServer

pytestmark = pytest.mark.slow  # ~20 s of requests plus the server's start on 2 cores

TOKEN = "fuzz-token"
EXAMPLES = 8  # per operation and generation mode
RECORD_EXAMPLES = 24  # valid cases per record route (add ... query): where fitted bodies reach the engine
BUDGET_SECONDS = 180  # the whole run (~20 s when the machine is idle); past it the rest is skipped and the test fails
SCOPE = f"{API_PREFIX}/tenants/default_tenant/databases/default_database"
COLLECTIONS = f"{API_PREFIX}/tenants/{{tenant}}/databases/{{database}}/collections"
SEEDED = {"fuzzed": True, "fuzzed-empty": False}  # name -> holds records (1-d, so short generated vectors fit)
BOUNDARY_INTEGERS = [0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30]
BATCHES = [["a"], ["b", "c"], ["new"]]  # ids for valid bodies that fit the seeded collections (see fit_to_seeds)
RECORD_ACTIONS = ("add", "upsert", "update", "delete", "get", "query")
# Deletes and reset would empty the seeded scope for every later operation: they run last, in this order.
DESTRUCTIVE = [
    f"DELETE {COLLECTIONS}/{{name}}",
    f"DELETE {API_PREFIX}/tenants/{{tenant}}/databases/{{database}}",
    f"POST {API_PREFIX}/reset",
]
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "chroma_error_shape",
]


@schemathesis.check
def chroma_error_shape(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """A 4xx body is exactly ``{"error": str, "message": str}`` with a name ragstore's clients know."""
    if not 400 <= response.status_code < 500:
        return None
    body = response.json()
    assert isinstance(body, dict), f"4xx body is not an object: {body!r}"
    assert set(body) == {"error", "message"}, f"4xx body keys are {sorted(body)}, not ['error', 'message']"
    assert isinstance(body["error"], str), f"'error' is not a string: {body!r}"
    assert isinstance(body["message"], str), f"'message' is not a string: {body!r}"
    assert error_class_for(body["error"]).wire_name == body["error"], f"unknown error name {body['error']!r}: clients cannot type it"
    return None


@dataclass
class Fuzzed:
    """The server under test and what the run saw."""

    server: RunningServer
    failures: dict[tuple[str, str], str] = field(default_factory=dict)  # (operation, failed checks) -> first report
    statuses: dict[int, int] = field(default_factory=dict)
    succeeded: set[str] = field(default_factory=set)  # operations that answered 2xx at least once
    requests: int = 0


def seed(url: str) -> dict[str, str]:
    """Create the default database (a fuzzed delete may have removed it) and the seeded collections; name -> id.

    Seeding goes through the REST API the fuzzer uses.
    """
    ids = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
        restored = http.post(f"{API_PREFIX}/tenants/default_tenant/databases", json={"name": "default_database"})
        assert restored.status_code in (200, 409), restored.text
        for name, with_records in SEEDED.items():
            response = http.post(f"{SCOPE}/collections", json={"name": name, "get_or_create": True})
            response.raise_for_status()
            ids[name] = response.json()["id"]
            if with_records:
                records = {"ids": ["a", "b", "c"], "embeddings": [[0.0], [1.0], [2.0]], "documents": ["alpha", "beta gamma", None]}
                records["metadatas"] = [{"k": 1, "s": "x"}, None, {"flag": True}]
                http.post(f"{SCOPE}/collections/{ids[name]}/add", json=records).raise_for_status()
    return ids


def fuzz_config(ids: dict[str, str]) -> schemathesis.Config:
    """schemathesis' configuration: the token, the seeded path parameters, boundary integers, the checks."""
    boundary = {"dictionary": "boundary", "probability": 0.25}
    return schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {TOKEN}"},
            "request-timeout": 10,
            "dictionaries": {
                "tenant": {"values": ["default_tenant"]},
                "database": {"values": ["default_database"]},
                "collection_id": {"values": [ids[name] for name in SEEDED]},  # in a fixed order: the ids are random
                "name": {"values": list(SEEDED)},
                "boundary": {"values": BOUNDARY_INTEGERS},
            },
            "parameters": {
                **{f"path.{name}": {"dictionary": name, "probability": 0.9} for name in ("tenant", "database", "collection_id", "name")},
                **{f"query.{name}": boundary for name in ("limit", "offset")},
                **{f"body.{name}": boundary for name in ("limit", "offset", "n_results")},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


# Filters in Chroma's grammar over the seeded metadata keys (and others), with values of every JSON type:
# random objects are almost never valid filters, so without these no filter would reach the engine.
SCALARS = st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6))
KEYS = st.one_of(st.sampled_from(["k", "s", "flag", "missing"]), st.text(max_size=4))
COMPARISONS = st.one_of(
    SCALARS,
    st.dictionaries(
        st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$contains", "$not_contains"]), SCALARS, min_size=1, max_size=1
    ),
    st.dictionaries(st.sampled_from(["$in", "$nin"]), st.lists(SCALARS, max_size=4), min_size=1, max_size=1),
)
WHERE = st.recursive(
    st.dictionaries(KEYS, COMPARISONS, min_size=1, max_size=1),
    lambda inner: st.dictionaries(st.sampled_from(["$and", "$or"]), st.lists(inner, min_size=2, max_size=3), min_size=1, max_size=1),
    max_leaves=4,
)
WHERE_DOCUMENT = st.recursive(
    st.dictionaries(st.sampled_from(["$contains", "$not_contains", "$regex", "$not_regex"]), st.text(max_size=6), min_size=1, max_size=1),
    lambda inner: st.dictionaries(st.sampled_from(["$and", "$or"]), st.lists(inner, min_size=2, max_size=3), min_size=1, max_size=1),
    max_leaves=3,
)


def fit_to_seeds(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Mostly give a record route's body ids, vectors and filters that fit the seeded collections (a ``flatmap_body`` hook).

    Random vectors rarely have the seeded dimension (1), random lists rarely
    agree in length and random objects are rarely filters, so without this
    almost no generated write, read or query would get past validation into the
    engine. The rest of the body (metadata, documents, include, limits) stays as generated.
    """
    action = context.operation.path.rsplit("/", 1)[-1] if context.operation is not None else ""
    if not isinstance(body, dict) or action not in RECORD_ACTIONS:
        return st.just(body)
    filters = action in ("get", "query", "delete")
    fits = st.builds(
        fitted,
        st.just(body),
        st.sampled_from([None, *BATCHES]) if filters else st.sampled_from(BATCHES),
        st.just(action),
        st.one_of(st.none(), WHERE) if filters else st.none(),
        st.one_of(st.none(), WHERE_DOCUMENT) if filters else st.none(),
    )
    return st.one_of(st.just(body), fits, fits, fits)  # three in four bodies fit


def fitted(body: dict[str, Any], ids: list[str] | None, action: str, where: Any, where_document: Any) -> dict[str, Any]:
    """``body`` with ``ids``, 1-d vectors for them, its other per-record lists cut to their length (or left out), filters."""
    fit = dict(body)
    if ids is not None:
        fit["ids"] = ids
    if action in ("add", "upsert") or "embeddings" in body:
        fit["embeddings"] = [[i / len(ids)] for i in range(len(ids))] if ids else [[0.5]]
    if action == "query":
        fit["query_embeddings"] = [[0.5]]
    for key in ("metadatas", "documents", "uris"):
        if isinstance(body.get(key), list) and ids is not None:
            if len(body[key]) >= len(ids):
                fit[key] = body[key][: len(ids)]
            else:
                del fit[key]
    for key, value in (("where", where), ("where_document", where_document)):
        if value is not None:
            fit[key] = value
    for key in ("n_results", "limit", "offset"):  # JSON Schema's integers include 8.0; ragstore (rightly) wants 8
        if isinstance(fit.get(key), float) and fit[key].is_integer():
            fit[key] = int(fit[key])
    return fit


def ordered(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    """Every operation in document order, the destructive ones last."""
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda op: DESTRUCTIVE.index(op.label) if op.label in DESTRUCTIVE else -1)


def fuzz(run: Fuzzed, ids: dict[str, str]) -> None:
    """Send the generated requests and collect every failed check (one report per operation and kind)."""
    url, config = f"{run.server.url}/openapi.json", fuzz_config(ids)
    valid = schemathesis.openapi.from_url(url, config=config)
    valid.hook("flatmap_body")(fit_to_seeds)  # only on valid cases: it could make an invalid body valid
    invalid = {op.label: op for op in ordered(schemathesis.openapi.from_url(url, config=config))}
    deadline = time.monotonic() + BUDGET_SECONDS
    for operation in ordered(valid):
        record_route = operation.path.rsplit("/", 1)[-1] in RECORD_ACTIONS
        cases = [
            (operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE), RECORD_EXAMPLES if record_route else EXAMPLES)
        ]
        if len(operation.query) or len(operation.body):  # a path parameter cannot be invalid: any string is one
            cases.append((invalid[operation.label].as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE), EXAMPLES))
        for strategy, examples in cases:

            @settings(
                max_examples=examples,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are collected, not raised
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def send(case: schemathesis.Case) -> None:
                if time.monotonic() > deadline:
                    run.failures.setdefault(("(run)", "time budget"), f"over {BUDGET_SECONDS} s; skipped from {case.operation.label} on")
                    return
                run.requests += 1
                try:
                    response = case.call()
                except requests.RequestException as exc:  # the server stopped answering: the worst failure
                    run.failures.setdefault((case.operation.label, "no response"), f"{exc!r}\n{case.as_curl_command()}")
                    return
                run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
                if response.status_code < 300:
                    run.succeeded.add(case.operation.label)
                try:
                    case.validate_response(response)
                except FailureGroup as group:
                    kinds = ", ".join(sorted(failure.title for failure in group.exceptions))
                    run.failures.setdefault((case.operation.label, kinds), str(group))

            send()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A token-guarded ``ragstore run`` with reset allowed, on a store in ``tmp_path``."""
    server = RunningServer.start(tmp_path / "store", ["--allow-reset"], env={"RAGSTORE_AUTH_TOKEN": TOKEN})
    try:
        yield server
    finally:
        server.stop()


# One test, not several on a shared fixture: pytest-xdist may hand tests of one module to both
# workers, and each would pay for its own run.
def test_fuzzing_finds_no_server_error_and_no_undocumented_response(server: RunningServer, tmp_path: Path) -> None:
    run = Fuzzed(server)
    # hypothesis caches the constants it finds in local modules under its home directory (./.hypothesis):
    # point it into tmp for this run, and back afterwards.
    home = storage_directory(intent_to_write=False).path
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    try:
        fuzz(run, seed(server.url))
    finally:
        set_hypothesis_home_dir(home)
    log = "".join(server.output)

    reports = [f"--- {label}: {kinds}\n{report}" for (label, kinds), report in sorted(run.failures.items())]
    assert not reports, f"{len(reports)} failures in {run.requests} requests (token {TOKEN!r}):\n" + "\n".join(reports) + log
    assert "Traceback" not in log, log

    # A run that stopped at auth, at 404s or at validation would pass while testing nothing.
    assert run.requests >= 200, run.statuses
    assert 401 not in run.statuses and 403 not in run.statuses, "the token did not get through"
    records = {f"POST {COLLECTIONS}/{{collection_id}}/{action}" for action in RECORD_ACTIONS}
    assert len(records & run.succeeded) >= 4, sorted(run.succeeded)

    # The server is alive and, seeded again after the deletes and reset the run ended with, answers a query.
    assert server.process.poll() is None, log
    ids = seed(server.url)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
        query = http.post(f"{SCOPE}/collections/{ids['fuzzed']}/query", json={"query_embeddings": [[0.1]], "n_results": 1})
    assert query.status_code == 200, query.text
    assert query.json()["ids"] == [["a"]]
