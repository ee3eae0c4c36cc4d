"""``import ragstore as chromadb``: the chromadb paths code commonly touches, beyond the clients.

``chromadb.config.Settings``, ``chromadb.utils.embedding_functions.<Name>`` (the functions
ragstore has, a clear error for the ones it lacks), ``CloudClient``'s refusal, and the
warning an ``add`` of existing ids logs, in every client mode (embedded, persistent, HTTP).
chromadb itself (installed for the tests) is the reference for names, signatures and configs.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import chromadb
import chromadb.utils.embedding_functions as chroma_efs
import numpy as np
import pytest
from servers import RunningServer
from test_embeddings_openai import EmbeddingServer, Handler, Plan

import ragstore
from ragstore.embeddings import (
    HashingEmbeddingFunction,
    OnnxEmbeddingFunction,
    SentenceTransformerEmbeddingFunction,
    build_embedding_function,
)
from ragstore.errors import AuthenticationError, InvalidArgumentError
from ragstore.utils import embedding_functions as efs

ROOT = Path(__file__).resolve().parent.parent
ADD_LOGGER = "ragstore.collection"

# ---------------------------------------------------------------------------------- chromadb.config


def test_config_settings_is_ragstores_settings_under_chromadbs_path() -> None:
    from ragstore.config import DEFAULT_DATABASE, DEFAULT_TENANT, Settings

    assert Settings is ragstore.Settings is ragstore.config.Settings
    assert (DEFAULT_TENANT, DEFAULT_DATABASE) == (chromadb.config.DEFAULT_TENANT, chromadb.config.DEFAULT_DATABASE)
    client = ragstore.Client(ragstore.config.Settings(allow_reset=True, anonymized_telemetry=False))
    client.create_collection("docs")
    assert client.reset() is True
    assert client.count_collections() == 0


DROP_IN = """
import ragstore as chromadb
settings = chromadb.config.Settings(allow_reset=True, anonymized_telemetry=False, is_persistent=True, persist_directory=PATH)
client = chromadb.Client(settings)
ef = chromadb.utils.embedding_functions.DefaultEmbeddingFunction()
col = client.get_or_create_collection("docs", embedding_function=ef)
col.add(ids=["a", "b"], documents=["apples are red", "the sky is blue"])
print(col.query(query_texts=["red fruit"], n_results=1)["ids"], type(client.get_collection("docs").embedding_function).__name__)
try:
    chromadb.utils.embedding_functions.CohereEmbeddingFunction(api_key="x")
except ImportError as exc:
    print(str(exc).split(";")[0])
try:
    chromadb.CloudClient(api_key="ck-x")
except NotImplementedError as exc:
    print(type(exc).__name__)
"""


def test_chromadb_attribute_paths_work_in_a_fresh_process(tmp_path: Path) -> None:
    # A fresh interpreter: nothing imported ragstore.config or ragstore.utils before `import ragstore`.
    code = f"PATH = {str(tmp_path / 'db')!r}\n" + textwrap.dedent(DROP_IN)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[['a']] DefaultEmbeddingFunction",
        "ragstore has no CohereEmbeddingFunction",
        "NotImplementedError",
    ]
    assert (tmp_path / "db" / "ragstore.sqlite3").exists()  # is_persistent was honoured


# ---------------------------------------------------------------------------------- embedding_functions: names


def test_chromadbs_top_level_names_are_all_importable_from_ragstore() -> None:
    assert sorted(set(chromadb.__all__) - set(dir(ragstore))) == []
    assert ragstore.TokenTransportHeader.X_CHROMA_TOKEN == "X-Chroma-Token"


def test_a_custom_embedding_function_written_as_chromadbs_docs_show_works_in_every_mode(client: ragstore.ClientAPI) -> None:
    from ragstore import Documents, EmbeddingFunction, Embeddings

    class LetterCounts(EmbeddingFunction[Documents]):  # chromadb's documented pattern (its Protocol is generic)
        def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - chromadb's parameter name
            return [np.array([text.count("a"), text.count("b"), 1.0], dtype=np.float32) for text in input]

    col = client.create_collection("letters", embedding_function=LetterCounts())
    col.add(ids=["as", "bs"], documents=["aaaa a", "bbbb b"])
    assert col.query(query_texts=["aaa"], n_results=1)["ids"] == [["as"]]


def test_every_chromadb_name_is_offered_or_refused_clearly() -> None:
    chroma_names = set(chroma_efs.__all__) | set(chroma_efs.get_builtins()) | {"get_builtins", "sparse_known_embedding_functions"}
    offered = {name for name in chroma_names if name in efs.__dict__}
    assert offered >= {
        "ChromaBm25EmbeddingFunction",
        "DefaultEmbeddingFunction",
        "EmbeddingFunction",
        "ONNXMiniLM_L6_V2",
        "OpenAIEmbeddingFunction",
        "SentenceTransformerEmbeddingFunction",
        "config_to_embedding_function",
        "register_embedding_function",
    }
    assert chroma_names - offered == set(efs.MISSING)  # the list is exact: nothing forgotten, nothing invented
    for name in efs.__all__:
        assert getattr(efs, name) is not None


@pytest.mark.parametrize("name", ["CohereEmbeddingFunction", "OllamaEmbeddingFunction", "known_embedding_functions"])
def test_a_missing_function_is_an_import_error_that_names_it_and_the_alternatives(name: str) -> None:
    with pytest.raises(ImportError) as by_attribute:
        getattr(ragstore.utils.embedding_functions, name)
    with pytest.raises(ImportError) as by_import:
        exec(f"from ragstore.utils.embedding_functions import {name}", {})
    for raised in (by_attribute.value, by_import.value):
        message = str(raised)
        assert message.startswith(f"ragstore has no {name}; it offers: ")
        assert "OpenAIEmbeddingFunction" in message and "OpenAICompatibleEmbeddingFunction(base_url, model)" in message
    # Names chromadb never had stay ordinary missing attributes, so hasattr() and getattr(..., default) work.
    assert not hasattr(efs, "NoSuchEmbeddingFunction")
    assert getattr(efs, "__wrapped__", None) is None


def test_chromadbs_names_are_ragstores_classes() -> None:
    assert efs.DefaultEmbeddingFunction is ragstore.DefaultEmbeddingFunction
    assert efs.ChromaBm25EmbeddingFunction is ragstore.ChromaBm25EmbeddingFunction
    assert efs.SentenceTransformerEmbeddingFunction is SentenceTransformerEmbeddingFunction
    assert efs.config_to_embedding_function({"name": "default", "config": {}}).name() == "default"
    with pytest.raises(ValueError, match="Unsupported embedding function: cohere"):
        efs.config_to_embedding_function({"name": "cohere", "config": {}})


# ---------------------------------------------------------------------------------- ONNXMiniLM_L6_V2


def test_onnx_mini_lm_is_the_float32_model_and_persists_as_chromadbs() -> None:
    texts = ["apples are red", "The HNSW graph links each vector to its nearest neighbours.", "x" * 3000]
    ours = np.stack(efs.ONNXMiniLM_L6_V2()(texts))
    # The fp32 encoder (test_onnx_embeddings checks it against the torch model: cosine >= 0.99999), not the int8 default's.
    assert np.array_equal(ours, np.stack(OnnxEmbeddingFunction(precision="fp32")(texts)))
    assert not np.array_equal(ours, np.stack(ragstore.DefaultEmbeddingFunction()(texts)))
    assert ours.shape == (3, 384)
    # chromadb's own class describes itself with the same name and config keys; ragstore rebuilds from them.
    theirs = chroma_efs.ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])
    rebuilt = build_embedding_function({"type": "known", "name": theirs.name(), "config": theirs.get_config()})
    assert isinstance(rebuilt, efs.ONNXMiniLM_L6_V2)
    assert rebuilt.get_config() == theirs.get_config() == {"preferred_providers": ["CPUExecutionProvider"]}
    assert efs.ONNXMiniLM_L6_V2().default_space() == theirs.default_space() == "cosine"


@pytest.mark.parametrize(
    ("providers", "message"),
    [
        (["CUDAExecutionProvider"], "CPUExecutionProvider only"),
        (["CPUExecutionProvider", "CPUExecutionProvider"], "unique"),
        ("CPUExecutionProvider", "list of strings"),
    ],
)
def test_onnx_mini_lm_refuses_providers_it_would_not_use(providers: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        efs.ONNXMiniLM_L6_V2(preferred_providers=providers)


# ---------------------------------------------------------------------------------- OpenAIEmbeddingFunction


class HeaderHandler(Handler):
    """test_embeddings_openai's server, also recording every request's headers."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.server.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
        super().do_POST()


class HeaderServer(EmbeddingServer):
    headers_seen: list[dict[str, str]]


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeaderServer]:
    for name in ("OPENAI_API_KEY", "CHROMA_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    httpd = HeaderServer(("127.0.0.1", 0), HeaderHandler)
    httpd.plan = Plan(api_key="sk-test", models=("test-embed", "text-embedding-3-small"))
    httpd.headers_seen = []
    with httpd.running():
        yield httpd


def test_openai_function_takes_chromadbs_arguments_and_sends_its_headers(openai_server: HeaderServer) -> None:
    ef = efs.OpenAIEmbeddingFunction(
        api_key="sk-test",
        model_name="test-embed",
        organization_id="org-1",
        api_base=openai_server.url + "/v1",
        default_headers={"X-Team": "search"},
        dimensions=8,  # not a text-embedding-3 model: chromadb does not send it, nor does ragstore
    )
    vectors = ef(["apples", "sky"])
    assert len(vectors) == 2 and len(vectors[0]) == 16
    seen = openai_server.headers_seen[-1]
    assert (seen["authorization"], seen["openai-organization"], seen["x-team"]) == ("Bearer sk-test", "org-1", "search")
    assert "dimensions" not in openai_server.plan.requests[-1]["body"]
    short = efs.OpenAIEmbeddingFunction(api_key="sk-test", model_name="text-embedding-3-small", api_base=openai_server.url, dimensions=8)
    assert len(short(["apples"])[0]) == 8 and openai_server.plan.requests[-1]["body"]["dimensions"] == 8
    ef.close()
    short.close()


def test_openai_function_persists_chromadbs_config_and_rebuilds_from_the_environment(
    openai_server: HeaderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHROMA_OPENAI_API_KEY", "sk-test")
    ef = efs.OpenAIEmbeddingFunction(model_name="test-embed", api_base=openai_server.url + "/v1")
    config = ef.get_config()
    # chromadb's get_config, run on an object holding the same attributes, gives the same keys and values.
    chroma_config = chroma_efs.OpenAIEmbeddingFunction.get_config(SimpleNamespace(**config))  # type: ignore[arg-type]
    assert config == chroma_config and "sk-test" not in str(config)
    client = ragstore.EphemeralClient()
    col = client.create_collection("openai-docs", embedding_function=ef)
    col.add(ids=["a", "b"], documents=["red apples", "blue sky"])
    reopened = client.get_collection("openai-docs")
    assert isinstance(reopened.embedding_function, efs.OpenAIEmbeddingFunction)
    assert reopened.embedding_function.get_config() == config
    assert reopened.query(query_texts=["red apples"], n_results=1)["ids"] == [["a"]]
    ef.close()
    client.close()


def test_openai_without_a_key_fails_at_the_first_embedding_and_azure_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "CHROMA_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    ef = efs.OpenAIEmbeddingFunction()  # constructing needs no key: a collection that persisted it opens for reads
    with pytest.raises(AuthenticationError, match="No OpenAI API key: pass api_key or set CHROMA_OPENAI_API_KEY"):
        ef(["apples"])
    with pytest.raises(InvalidArgumentError, match="Azure"):
        efs.OpenAIEmbeddingFunction(api_key="k", api_type="azure", api_version="2024-02-01", deployment_id="d")


# ---------------------------------------------------------------------------------- CloudClient


def test_cloud_client_takes_chromadbs_arguments_and_says_what_to_use_instead() -> None:
    ours = inspect.signature(ragstore.CloudClient).parameters
    theirs = inspect.signature(chromadb.CloudClient).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [(p.name, p.kind, p.default) for p in theirs.values()]
    with pytest.raises(NotImplementedError) as raised:
        ragstore.CloudClient("tenant", "db", "ck-key", cloud_host="api.trychroma.com")
    assert "ragstore has no cloud" in str(raised.value)
    assert "ragstore run" in str(raised.value) and "HttpClient" in str(raised.value)


# ---------------------------------------------------------------------------------- re-adding existing ids


def add_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == ADD_LOGGER and r.levelno == logging.WARNING]


def test_re_adding_existing_ids_warns_once_per_call_in_every_mode(client: ragstore.ClientAPI, caplog: pytest.LogCaptureFixture) -> None:
    col = client.create_collection("readd", embedding_function=HashingEmbeddingFunction(dim=8))
    caplog.set_level(logging.WARNING, logger=ADD_LOGGER)
    col.add(ids=["a", "b"], embeddings=[[1.0] * 8, [2.0] * 8])
    assert add_warnings(caplog) == []
    col.add(ids=["c", "b", "a"], embeddings=[[3.0] * 8, [9.0] * 8, [9.0] * 8])  # given embeddings
    col.add(ids=["a", "d"], documents=["new text for a", "text d"])  # documents to embed
    col.add(ids=["a"], documents=["only existing"])
    assert add_warnings(caplog) == [
        "Add of existing embedding ID: b, a (2 of 3 ids; add skips existing ids, upsert overwrites them)",
        "Add of existing embedding ID: a (1 of 2 ids; add skips existing ids, upsert overwrites them)",
        "Add of existing embedding ID: a (1 of 1 ids; add skips existing ids, upsert overwrites them)",
    ]
    got = col.get(ids=["a", "b"], include=["embeddings", "documents"])
    assert np.asarray(got["embeddings"]).tolist() == [[1.0] * 8, [2.0] * 8] and got["documents"] == [None, None]  # skipped, not changed
    assert col.count() == 4
    caplog.clear()
    col.upsert(ids=["a", "e"], embeddings=[[5.0] * 8, [6.0] * 8])
    col.update(ids=["b"], embeddings=[[7.0] * 8])
    assert add_warnings(caplog) == []  # upsert and update overwrite on purpose


def test_a_long_re_add_names_ten_ids_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    col = ragstore.EphemeralClient().create_collection("many")
    ids = [f"id{i:02d}" for i in range(25)]
    col.add(ids=ids, embeddings=np.ones((25, 2)))
    caplog.set_level(logging.WARNING, logger=ADD_LOGGER)
    col.add(ids=[*ids, "new"], embeddings=np.ones((26, 2)))
    assert add_warnings(caplog) == [
        f"Add of existing embedding ID: {', '.join(ids[:10])} and 15 more (25 of 26 ids; add skips existing ids, upsert overwrites them)"
    ]


def test_against_a_server_process_the_warning_is_logged_where_the_ids_are_known(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Given embeddings, the server's engine finds the existing ids as it writes and logs them (no extra request);
    given texts to embed, the client reads which ids exist first (so it does not embed them) and logs them itself."""
    server = RunningServer.start(tmp_path / "served")
    try:
        caplog.set_level(logging.WARNING, logger=ADD_LOGGER)
        with ragstore.HttpClient(host=server.host, port=server.port) as client:
            client.create_collection("sync").add(ids=["a"], embeddings=[[1.0, 2.0]])
            client.get_collection("sync").add(ids=["a", "b"], embeddings=[[1.0, 2.0], [3.0, 4.0]])
            assert client.get_collection("sync").count() == 2

        async def main() -> None:
            client = await ragstore.AsyncHttpClient(host=server.host, port=server.port)
            try:
                col = await client.create_collection("async", embedding_function=HashingEmbeddingFunction(dim=4))
                await col.add(ids=["x"], documents=["first"])
                await col.add(ids=["y", "x"], documents=["second", "again"])
                assert await col.count() == 2
            finally:
                await client.close()

        asyncio.run(main())
        assert add_warnings(caplog) == [  # the client's own: the documents path
            "Add of existing embedding ID: x (1 of 2 ids; add skips existing ids, upsert overwrites them)",
        ]
    finally:
        assert server.stop() == 0
    logged = [line for line in server.output if "Add of existing embedding ID" in line]
    assert logged == ["Add of existing embedding ID: a (1 of 2 ids; add skips existing ids, upsert overwrites them)\n"], server.output
