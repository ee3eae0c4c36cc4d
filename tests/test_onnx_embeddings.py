"""The torch-free ONNX default embedder against real components: the bundled model, real processes, real files.

- the graph builder against an independent numpy BERT on tiny random weights;
- the bundled all-MiniLM-L6-v2 against sentence-transformers on torch, on real SciFact text;
- offline and torch-free in fresh processes, with the network made to fail loudly;
- one shared session under threads, input order, odd inputs, the on-disk cache's integrity,
  other local BERT folders, and persistence of the function in every client mode.

The loaded functions are module-scoped (loading is the slow part); every test that touches the
model cache points ``RAGSTORE_CACHE_DIR`` at a temporary folder, and tests that need a fresh load
empty the per-process encoder table (``ragstore.embeddings.onnx.model._encoders``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import ragstore
from ragstore.embeddings import DefaultEmbeddingFunction, OnnxEmbeddingFunction, SentenceTransformerEmbeddingFunction
from ragstore.embeddings.once import OncePerKey
from ragstore.embeddings.onnx import cache as onnx_cache
from ragstore.embeddings.onnx import model as onnx_model
from ragstore.embeddings.onnx.graph import BertShape, build_graph, tiny_bert_weights
from ragstore.embeddings.sentence_transformer import packaged_model_path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
SCIFACT = DATA / "retrieval" / "scifact" / "corpus.jsonl"
MARKDOWN = DATA / "docs" / "markdown"
HEAVY = ("torch", "sentence_transformers", "transformers")
CACHE_LOGGER = "ragstore.embeddings.onnx.cache"

Vectors = npt.NDArray[np.float32]


def scifact_texts(n: int, whole_every: int = 3) -> list[str]:
    """``n`` real abstracts of very different lengths: whole (often beyond 256 word pieces), titles only, first sentences."""
    assert SCIFACT.exists(), f"this test reads real text from {SCIFACT} (../shared/data beside the clone)"
    with SCIFACT.open(encoding="utf-8") as lines:
        docs = [json.loads(line) for line in itertools.islice(lines, n)]
    return [
        d["title"] + " " + d["text"] if i % whole_every == 0 else d["title"] if i % 2 else d["text"].split(". ")[0]
        for i, d in enumerate(docs)
    ]


def stack(vectors: Sequence[Vectors]) -> Vectors:
    return np.asarray(np.stack(vectors), dtype=np.float32)


def row_cosines(a: Vectors, b: Vectors) -> npt.NDArray[np.float64]:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return np.asarray((a64 * b64).sum(axis=1) / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)))


@dataclass
class Loaded:
    """The functions under test, loaded once for the module, and the cache folder they were built into."""

    int8: OnnxEmbeddingFunction
    fp32: OnnxEmbeddingFunction
    default: DefaultEmbeddingFunction
    cache: Path


@pytest.fixture(scope="module")
def fns(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    cache = tmp_path_factory.mktemp("onnx-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAGSTORE_CACHE_DIR", str(cache))
        # Build into the temporary cache even when another test module of this process loaded the models first
        # (the loaded encoders are shared process-wide); each function keeps the encoder it loads here.
        patch.setattr(onnx_model, "_encoders", OncePerKey())
        loaded = Loaded(OnnxEmbeddingFunction(precision="int8"), OnnxEmbeddingFunction(precision="fp32"), DefaultEmbeddingFunction(), cache)
        for ef in (loaded.int8, loaded.fp32, loaded.default):
            ef.encoder()  # load now, while the cache points at the temporary folder
    return loaded


@pytest.fixture(scope="module")
def texts() -> list[str]:
    # One whole abstract in six: enough texts cut at the 256-piece window, while torch's pass stays a few seconds.
    return scifact_texts(210, whole_every=6)


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test of this module builds into the user's cache, even by accident."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("RAGSTORE_CACHE_DIR", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return folder


@pytest.fixture
def fresh_encoders(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next load in this test reads or builds the model again (the module's loaded encoders come back afterwards)."""
    monkeypatch.setattr(onnx_model, "_encoders", OncePerKey())


def bundled() -> Path:
    return Path(packaged_model_path())


def cached_models(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.onnx"))


# ---------------------------------------------------------------------------------- the graph builder vs numpy


# _GraphWriter.const stores np.ascontiguousarray(array), which turns the 0-d cls_index into shape [1]; the Gather then
# keeps a token axis, so CLS pooling returns [batch, 1, hidden] (the values are right) and a batch of 2+ fails in encode().
TINY = BertShape(hidden=8, heads=2, layers=2, intermediate=16, vocab=30, positions=16)
_erf = np.vectorize(math.erf)


def reference_bert(weights: dict[str, Vectors], shape: BertShape, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Any:
    """BERT + pooling + normalisation in float64 numpy, written from the paper's recipe (independent of the graph code)."""
    w = {name: value.astype(np.float64) for name, value in weights.items()}

    def layer_norm(x: Any, name: str) -> Any:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + shape.layer_norm_eps) * w[name + ".weight"] + w[name + ".bias"]

    def dense(x: Any, name: str) -> Any:
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    batch, tokens = ids.shape
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:tokens]
    x = layer_norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    heads, size = shape.heads, shape.head_size
    masked = np.where(mask[:, None, None, :] == 1, 0.0, -np.inf)  # padded keys get no attention at all
    for i in range(shape.layers):
        p = f"encoder.layer.{i}."

        def split(y: Any) -> Any:
            return y.reshape(batch, tokens, heads, size).transpose(0, 2, 1, 3)

        q, k, v = (split(dense(x, p + "attention.self." + n)) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + masked
        weights_ = np.exp(scores - scores.max(-1, keepdims=True))
        weights_ /= weights_.sum(-1, keepdims=True)
        context = (weights_ @ v).transpose(0, 2, 1, 3).reshape(batch, tokens, shape.hidden)
        x = layer_norm(dense(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        inner = dense(x, p + "intermediate.dense")
        inner = 0.5 * inner * (1 + _erf(inner / np.sqrt(2)))  # exact (erf) GELU, as BERT's "gelu"
        x = layer_norm(dense(inner, p + "output.dense") + x, p + "output.LayerNorm")
    if shape.pooling == "cls":
        pooled = x[:, 0]
    else:
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    if shape.normalize:
        pooled = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled


def run_graph(model: Any, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Vectors:
    import onnxruntime

    session = onnxruntime.InferenceSession(model.SerializeToString(), onnx_model.session_options(), providers=["CPUExecutionProvider"])
    out: Vectors = session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0]
    return out


def padded_batch(seed: int = 1) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Four token lists of lengths 11, 6, 2 and 1, padded on the right with id 0 (the padding must not count)."""
    rng = np.random.default_rng(seed)
    lists = [list(rng.integers(1, TINY.vocab, size=n)) for n in (11, 6, 2, 1)]
    return onnx_model.pad(lists, pad_id=0)


@pytest.mark.parametrize(
    "shape",
    [
        TINY,
        replace(TINY, pooling="cls"),
        replace(TINY, normalize=False),
        replace(TINY, pooling="cls", normalize=False),
    ],
    ids=["mean-normalized", "cls-normalized", "mean-raw", "cls-raw"],
)
def test_fp32_graph_equals_a_numpy_bert_with_padding(shape: BertShape) -> None:
    weights = tiny_bert_weights(shape, seed=3)
    ids, mask = padded_batch()
    expected = reference_bert(weights, shape, ids, mask)
    got = run_graph(build_graph(weights, shape, precision="fp32"), ids, mask)
    assert got.shape == (4, shape.hidden) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    if not shape.normalize:  # the raw variant really is raw, or the comparison above would prove less
        assert not np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-3)


def test_fp32_graph_ignores_padding_and_takes_bert_prefixed_names() -> None:
    weights = tiny_bert_weights(TINY, seed=4)
    ids, mask = padded_batch()
    batched = run_graph(build_graph(weights, TINY), ids, mask)
    alone = run_graph(build_graph(weights, TINY), ids[1:2, :6], mask[1:2, :6])
    np.testing.assert_allclose(batched[1], alone[0], atol=1e-6)
    prefixed = {"bert." + name: value for name, value in weights.items()}  # the names of a BertModel saved inside a task head
    np.testing.assert_array_equal(run_graph(build_graph(prefixed, TINY), ids, mask), batched)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_int8_graph_stays_close_to_the_numpy_bert(pooling: str) -> None:
    shape = replace(TINY, pooling=pooling)
    weights = tiny_bert_weights(shape, seed=5)
    ids, mask = padded_batch()
    expected = reference_bert(weights, shape, ids, mask).astype(np.float32)
    got = run_graph(build_graph(weights, shape, precision="int8"), ids, mask)
    cosines = row_cosines(got, expected)
    assert cosines.min() >= 0.99, f"int8 vs numpy cosines {np.round(cosines, 5).tolist()}"
    assert not np.array_equal(got, run_graph(build_graph(weights, shape, precision="fp32"), ids, mask)), "int8 built a float graph"


def test_build_graph_rejects_missing_and_misshapen_weights_and_unknown_precision() -> None:
    weights = tiny_bert_weights(TINY)
    missing = {k: v for k, v in weights.items() if k != "encoder.layer.1.output.dense.bias"}
    with pytest.raises(ValueError, match=r"'encoder\.layer\.1\.output\.dense\.bias' is missing"):
        build_graph(missing, TINY)
    misshapen = {**weights, "embeddings.word_embeddings.weight": np.zeros((TINY.vocab - 1, TINY.hidden), np.float32)}
    with pytest.raises(ValueError, match=r"'embeddings\.word_embeddings\.weight' has shape \(29, 8\)"):
        build_graph(misshapen, TINY)
    too_wide = {**weights, "encoder.layer.0.attention.self.query.bias": np.zeros(TINY.hidden + 1, np.float32)}
    with pytest.raises(ValueError, match=r"attention\.self\.query\.bias' has shape"):
        build_graph(too_wide, TINY)
    with pytest.raises(ValueError, match="precision must be 'fp32' or 'int8', got 'fp16'"):
        build_graph(weights, TINY, precision="fp16")


# ---------------------------------------------------------------------------------- the bundled model vs torch


def test_bundled_model_matches_sentence_transformers_on_real_text(fns: Loaded, texts: list[str]) -> None:
    torch_vectors = stack(SentenceTransformerEmbeddingFunction()(texts))
    fp32 = stack(fns.fp32(texts))
    int8 = stack(fns.int8(texts))
    fp32_cos, int8_cos = row_cosines(fp32, torch_vectors), row_cosines(int8, torch_vectors)
    assert len(texts) >= 200
    assert fp32_cos.min() >= 0.99999, f"fp32 vs torch: min cosine {fp32_cos.min():.6f} (text {int(fp32_cos.argmin())})"
    assert int8_cos.min() >= 0.99, f"int8 vs torch: min cosine {int8_cos.min():.5f}, mean {int8_cos.mean():.5f}"
    assert int8_cos.mean() >= 0.995, f"int8 vs torch: mean cosine {int8_cos.mean():.5f}"
    np.testing.assert_array_equal(stack(fns.default(texts)), int8)


# ---------------------------------------------------------------------------------- offline, torch-free processes


def python_process(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str]) -> Any:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


OFFLINE_EMBED = """
    import json, socket, sys

    def refuse(*args, **kwargs):
        raise RuntimeError("network access attempted")

    # Before ragstore is imported: any connection attempt fails loudly instead of hanging or succeeding.
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse

    import ragstore
    vectors = ragstore.DefaultEmbeddingFunction()(["an offline sentence", "écrit sans réseau 日本語"])
    print(json.dumps({
        "vectors": [v.tolist() for v in vectors],
        "heavy": [m for m in %r if m in sys.modules],
    }))
"""


@pytest.mark.slow
def test_default_embeds_offline_without_torch_and_a_second_process_reads_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAGSTORE_CACHE_DIR": str(cache)}
    first = finish(python_process(OFFLINE_EMBED % (HEAVY,), env))
    assert first["heavy"] == []
    assert np.allclose(np.linalg.norm(first["vectors"], axis=1), 1.0, atol=1e-5)
    [built] = cached_models(cache / "onnx")
    assert built.with_suffix(".json").exists()
    before = built.stat()
    listing = sorted(p.name for p in (cache / "onnx").iterdir())

    second = finish(python_process(OFFLINE_EMBED % (HEAVY,), env))
    after = built.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), "the second process rebuilt the cached model"
    assert sorted(p.name for p in (cache / "onnx").iterdir()) == listing
    assert second["heavy"] == []
    np.testing.assert_array_equal(np.array(second["vectors"]), np.array(first["vectors"]))


# ---------------------------------------------------------------------------------- one session, many threads


def test_one_shared_session_gives_sequential_results_under_threads(fns: Loaded, texts: list[str]) -> None:
    ef = fns.default
    shared = texts[:8]
    own = [texts[8 + 4 * i : 12 + 4 * i] for i in range(8)]
    expected_shared = stack(ef(shared))
    expected_own = [stack(ef(lst)) for lst in own]
    start = threading.Barrier(8)
    failures: list[str] = []

    def work(i: int) -> None:
        try:
            start.wait()
            for call in range(3):
                if not np.array_equal(stack(ef(shared)), expected_shared):
                    failures.append(f"thread {i} call {call}: shared list differs")
                if not np.array_equal(stack(ef(own[i])), expected_own[i]):
                    failures.append(f"thread {i} call {call}: own list differs")
        except Exception as exc:  # a crash in a thread must fail the test, not vanish
            failures.append(f"thread {i}: {exc!r}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []


# ---------------------------------------------------------------------------------- order and odd inputs


def test_mixed_lengths_come_back_in_input_order(fns: Loaded, texts: list[str]) -> None:
    batch = texts[:40]  # whole abstracts, titles and first sentences interleaved: sorting by length reorders them
    batched = stack(fns.fp32(batch))
    alone = stack([fns.fp32([t])[0] for t in batch])
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    permutation = np.random.default_rng(7).permutation(len(batch))
    permuted = stack(fns.fp32([batch[i] for i in permutation]))
    np.testing.assert_allclose(permuted, batched[permutation], atol=1e-5)

    int8_batched = stack(fns.int8(batch))
    int8_alone = stack([fns.int8([t])[0] for t in batch])
    cosines = row_cosines(int8_batched, int8_alone)
    assert cosines.min() >= 0.99, f"int8 batched vs alone: min cosine {cosines.min():.5f}"
    assert row_cosines(int8_batched, batched).min() >= 0.99  # and each is the right text's vector, not a neighbour's


def test_odd_inputs_give_finite_unit_vectors(fns: Loaded) -> None:
    markdown = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted(MARKDOWN.rglob("*.md")))
    megabyte = (markdown * (1 + 2**20 // len(markdown)))[: 2**20]
    odd = ["", "   \n\t ", megabyte, "word " * 10_000, "日本語のテキストと中文文本", "🙂🚀 emoji only 👍🏽", "Ünïcödé ñ ß ø"]
    for ef in (fns.int8, fns.fp32):
        vectors = stack(ef(odd))
        assert vectors.shape == (len(odd), 384)
        assert np.isfinite(vectors).all()
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        # Only whitespace is the empty text once stripped (in a batch of its own, so int8's scales match too).
        np.testing.assert_array_equal(ef(["   \n\t "])[0], ef([""])[0])
        assert ef([]) == []


def test_surrounding_whitespace_is_ignored_as_sentence_transformers_strips(fns: Loaded, texts: list[str]) -> None:
    for ef in (fns.int8, fns.fp32):
        for text in texts[:3]:
            np.testing.assert_array_equal(ef(["\n  " + text + " \t\n"])[0], ef([text])[0])
    assert not np.array_equal(fns.fp32(["a red apple"])[0], fns.fp32(["a green apple"])[0])


def test_texts_equal_in_their_first_256_word_pieces_embed_the_same(fns: Loaded, texts: list[str]) -> None:
    long_text = " ".join(texts[0:9:3])  # three whole abstracts: far beyond the window
    assert len(fns.fp32.encoder().tokenizer.encode(long_text).ids) == 256  # truncated at the window
    for ef in (fns.int8, fns.fp32):
        a = ef([long_text + " and it ends about apples."])[0]
        b = ef([long_text + " Completely different ending, on tax law."])[0]
        np.testing.assert_array_equal(a, b)
    short = texts[1]
    assert not np.array_equal(fns.fp32([short + " apples"])[0], fns.fp32([short + " tax law"])[0])


# ---------------------------------------------------------------------------------- the on-disk cache


def install_clean_cache(fns: Loaded, folder: Path, precision: str = "fp32") -> Path:
    """Copy the module's clean cached model (and its sidecar) into ``folder``; returns the model file."""
    [clean] = [p for p in cached_models(fns.cache / "onnx") if f"-{precision}-" in p.name]
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(clean, folder / clean.name)
    shutil.copy(clean.with_suffix(".json"), folder / clean.with_suffix(".json").name)
    return folder / clean.name


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flipped":
        middle = len(data) // 2
        data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
        path.write_bytes(bytes(data))
    elif how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 3]))
    elif how == "sidecar-missing":
        path.with_suffix(".json").unlink()
    elif how == "sidecar-garbage":
        path.with_suffix(".json").write_text("{not json", encoding="utf-8")
    elif how == "sidecar-wrong-digest":
        path.with_suffix(".json").write_text(json.dumps({"xxh3_128": "0" * 32, "size": len(data)}), encoding="utf-8")
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["truncated", "sidecar-missing", "sidecar-garbage", "sidecar-wrong-digest"])
def test_damaged_cache_is_detected_and_rebuilt(how: str, fns: Loaded, private_cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = bundled()
    shape = BertShape.from_folder(folder)
    path = install_clean_cache(fns, onnx_cache.cache_dir())
    assert path.parent == private_cache / "onnx"
    clean = path.read_bytes()
    assert onnx_cache.model_bytes(folder, shape, "fp32") == clean  # the installed copy is the one model_bytes looks for
    damage(path, how)
    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        assert onnx_cache.model_bytes(folder, shape, "fp32") == clean
    warnings = [r for r in caplog.records if r.name == CACHE_LOGGER and r.levelno == logging.WARNING]
    # A missing sidecar is an unfinished write, not damage: rebuilt without a warning. Every other case warns once.
    assert len(warnings) == (0 if how == "sidecar-missing" else 1), [r.getMessage() for r in warnings]
    assert all(str(path) in r.getMessage() for r in warnings)
    assert path.read_bytes() == clean
    recorded = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert recorded["size"] == len(clean)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        assert onnx_cache.model_bytes(folder, shape, "fp32") == clean
    assert caplog.records == []  # the rebuilt file is trusted again


def test_corrupt_cached_model_is_rebuilt_and_embeds_as_a_clean_build(
    fns: Loaded, texts: list[str], caplog: pytest.LogCaptureFixture, fresh_encoders: None
) -> None:
    path = install_clean_cache(fns, onnx_cache.cache_dir())
    clean = path.read_bytes()
    damage(path, "flipped")
    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        vectors = stack(OnnxEmbeddingFunction(precision="fp32")(texts[:12]))
    assert [r.getMessage() for r in caplog.records if "does not match its digest" in r.getMessage()], caplog.text
    assert path.read_bytes() == clean
    np.testing.assert_array_equal(vectors, stack(fns.fp32(texts[:12])))


def test_unwritable_cache_folder_works_in_memory_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fns: Loaded, caplog: pytest.LogCaptureFixture, fresh_encoders: None
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("RAGSTORE_CACHE_DIR", str(blocker))  # the cache folder would be a-file/onnx: it cannot be created
    monkeypatch.setattr(onnx_cache, "_warned", set())
    sample = ["a sentence embedded without a cache", "another"]
    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        first = stack(OnnxEmbeddingFunction(precision="fp32")(sample))
        monkeypatch.setattr(onnx_model, "_encoders", OncePerKey())  # load again in this process: built in memory again
        second = stack(OnnxEmbeddingFunction(precision="fp32")(sample))
    cannot = [r.getMessage() for r in caplog.records if r.name == CACHE_LOGGER and "cannot cache" in r.getMessage()]
    assert len(cannot) == 1, cannot
    np.testing.assert_array_equal(first, stack(fns.fp32(sample)))
    np.testing.assert_array_equal(second, first)
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_a_cache_folder_under_a_file_reads_as_absent_without_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        assert onnx_cache._read_verified(blocker / "onnx" / "model.onnx") is None
    assert [r.getMessage() for r in caplog.records] == []  # nothing was damaged: the one "cannot cache" warning says it all


def test_new_weights_mtime_gets_a_new_cache_file_and_never_reads_the_stale_one(tmp_path: Path, fns: Loaded) -> None:
    folder = Path(shutil.copytree(bundled(), tmp_path / "model-copy"))
    shape = BertShape.from_folder(folder)
    fresh = onnx_cache.model_bytes(folder, shape, "fp32")
    [old] = cached_models(onnx_cache.cache_dir())
    # Plant a valid-looking stale model under the old key (another model, with a matching digest): were the old
    # key reused after the weights change, this would be read, and its vectors would be wrong.
    stale = build_graph(tiny_bert_weights(TINY), TINY).SerializeToString()
    onnx_cache._write(old, stale)
    assert onnx_cache.model_bytes(folder, shape, "fp32") == stale  # the plant is accepted while the weights are unchanged
    weights = folder / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    os.utime(weights, ns=(mtime + 5_000_000_000, mtime + 5_000_000_000))
    assert onnx_cache.model_bytes(folder, shape, "fp32") == fresh
    # A new file under a new key; the superseded build of the same folder and precision is pruned with its sidecar.
    [new] = cached_models(onnx_cache.cache_dir())
    assert new != old and not old.exists() and not old.with_suffix(".json").exists()
    assert new.read_bytes() == fresh and onnx_cache._read_verified(new) == fresh


BUILD_AT = """
    import hashlib, json, time
    from pathlib import Path
    from ragstore.embeddings.onnx.cache import model_bytes
    from ragstore.embeddings.onnx.graph import BertShape
    from ragstore.embeddings.sentence_transformer import packaged_model_path

    folder = Path(packaged_model_path())
    shape = BertShape.from_folder(folder)
    time.sleep(max(0.0, %r - time.time()))  # both processes start building at the same moment
    print(json.dumps({"sha256": hashlib.sha256(model_bytes(folder, shape, "fp32")).hexdigest()}))
"""


@pytest.mark.slow
def test_two_processes_building_the_same_cache_both_succeed(tmp_path: Path) -> None:
    cache = tmp_path / "shared-cache"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAGSTORE_CACHE_DIR": str(cache)}
    at = time.time() + 3.0  # after both have imported ragstore
    processes = [python_process(BUILD_AT % (at,), env) for _ in range(2)]
    digests = {finish(p)["sha256"] for p in processes}
    assert len(digests) == 1
    names = sorted(p.name for p in (cache / "onnx").iterdir())
    assert len(names) == 2 and names[0].endswith(".json") and names[1].endswith(".onnx"), names
    [model] = cached_models(cache / "onnx")
    data = onnx_cache._read_verified(model)
    assert data is not None
    assert hashlib.sha256(data).hexdigest() in digests


# ---------------------------------------------------------------------------------- other local BERT folders


@pytest.fixture
def partial_folder(tmp_path: Path) -> Iterator[Path]:
    """A model folder to fill per test, with the bundled weights linked in (not copied: 90 MB)."""
    folder = tmp_path / "partial"
    folder.mkdir()
    (folder / "model.safetensors").symlink_to(bundled() / "model.safetensors")
    yield folder


def test_a_copied_model_folder_embeds_as_the_bundled_model(tmp_path: Path, fns: Loaded, texts: list[str]) -> None:
    copy = Path(shutil.copytree(bundled(), tmp_path / "my-minilm"))
    ef = OnnxEmbeddingFunction(model_name=str(copy), precision="fp32")
    assert ef.get_config() == {"model_name": str(copy), "precision": "fp32"}
    np.testing.assert_allclose(stack(ef(texts[:20])), stack(fns.fp32(texts[:20])), atol=1e-6)
    [own] = cached_models(onnx_cache.cache_dir())  # the copy has its own cache file (the bundled one is elsewhere)
    assert own.name.startswith("my_minilm-") and "-fp32-" in own.name


def test_a_gpt2_folder_is_refused_by_name(partial_folder: Path, fresh_encoders: None) -> None:
    shutil.copy(bundled() / "tokenizer.json", partial_folder / "tokenizer.json")
    (partial_folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 384}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"'gpt2'") as raised:
        OnnxEmbeddingFunction(model_name=str(partial_folder), precision="fp32")(["text"])
    assert str(partial_folder) in str(raised.value)


def test_a_folder_without_tokenizer_json_is_refused_by_name(partial_folder: Path, fresh_encoders: None) -> None:
    shutil.copy(bundled() / "config.json", partial_folder / "config.json")
    with pytest.raises(FileNotFoundError, match=r"tokenizer\.json") as raised:
        OnnxEmbeddingFunction(model_name=str(partial_folder), precision="fp32")(["text"])
    assert str(partial_folder) in str(raised.value)


def test_a_cls_pooled_folder_embeds_a_batch(tmp_path: Path, texts: list[str]) -> None:
    folder = tmp_path / "cls-model"
    folder.mkdir()
    for item in bundled().iterdir():
        if item.name != "1_Pooling":
            (folder / item.name).symlink_to(item)
    pooling = json.loads((bundled() / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    (folder / "1_Pooling").mkdir()
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling), encoding="utf-8")
    ef = OnnxEmbeddingFunction(model_name=str(folder), precision="fp32")
    batched = stack(ef(texts[:6]))
    assert batched.shape == (6, 384)
    np.testing.assert_allclose(batched, stack([ef([t])[0] for t in texts[:6]]), atol=1e-5)


def test_a_missing_folder_is_an_invalid_argument(tmp_path: Path) -> None:
    ef = OnnxEmbeddingFunction(model_name=str(tmp_path / "no-such-model"), precision="fp32")
    with pytest.raises(ragstore.InvalidArgumentError, match="no-such-model"):
        ef(["text"])


# ---------------------------------------------------------------------------------- persistence in every mode


DOCS = {
    "apple": "Apples are a sweet fruit that grows on trees in orchards.",
    "tax": "Income tax brackets rise with the amount a household earns.",
    "rocket": "The rocket engine burned liquid oxygen and kerosene at launch.",
    "cell": "Mitochondria produce most of the energy a living cell uses.",
}


@pytest.mark.parametrize("which", ["fp32", "default"])
def test_the_function_persists_and_reopened_collections_query_by_text(client_factory: Any, fns: Loaded, which: str) -> None:
    ef: OnnxEmbeddingFunction = fns.fp32 if which == "fp32" else fns.default
    col = client_factory().create_collection("onnx-docs", embedding_function=ef)
    col.add(ids=list(DOCS), documents=list(DOCS.values()))
    reopened = client_factory(reopen=True).get_collection("onnx-docs")
    rebuilt = reopened.embedding_function
    assert type(rebuilt) is type(ef)
    assert rebuilt.get_config() == ef.get_config()
    assert rebuilt.name() == ("ragstore_onnx" if which == "fp32" else "default")
    for doc_id, text in DOCS.items():
        found = reopened.query(query_texts=[text], n_results=2)
        assert found["ids"][0][0] == doc_id, (doc_id, found["ids"])
