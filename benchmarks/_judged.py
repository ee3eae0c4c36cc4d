"""The four judged retrieval collections in ``../shared/data/retrieval/``, their metrics and their cached dense vectors.

Every loader returns one shape, :class:`JudgedCollection`: documents as ``(id, text)`` pairs,
queries and graded qrels per split (only queries with at least one relevant document, as
BEIR / pytrec_eval evaluate). The choices each collection needs, measured where there was one
to make (bm25s with an English stemmer and stop words, numbers from ``hybrid_retrieval.py``):

- **SciFact** (BEIR): text is ``title + " " + text`` as BEIR builds it; splits ``train`` (809
  queries) and ``test`` (300); all grades are 1.
- **NFCorpus** (original release, test split): the text files are already lowercased with stop
  words removed. BEIR's NFCorpus queries are the page *titles*, so ``test.titles.queries``
  (323 of its 325 queries are judged) is the file that reproduces BEIR's 323 test queries;
  ``test.all.queries`` (every field of the page concatenated) has the same ids but long texts.
  Qrels: ``test.2-1-0.qrel`` (grades 2 and 1, 12,334 lines, BEIR's test qrels). The corpus is
  the 3,162 test-split documents, not BEIR's 3,633 (all splits), so scores run a little apart
  from BEIR's: published BM25 0.325; bm25s gets 0.334 with ``titles`` but 0.405 with ``all``
  (the long queries carry the page's own words), so only ``titles`` is BEIR's setting.
- **Vaswani** (NPL): TREC SGML documents and queries (upper case: both BM25 and the uncased
  MiniLM tokenizer lowercase), binary qrels; one split, ``all`` (93 queries).
- **Cranfield 1400**: documents are the ``.W`` abstract, which already starts with the title
  (adding ``.T`` would count title words twice). ``cranqrel`` numbers the queries 1..225 in
  *file order*, not by their ``.I`` ids (which skip: 1, 2, 4, 8, ...), so a query's id here is
  its position. Cleverdon's codes run 1 = complete answer ... 4 = minimum interest, -1 = no
  interest; gains are ``5 - code`` (1 -> 4 ... 4 -> 1) and -1 is dropped (not relevant), as
  trec_eval-style graded evaluations of Cranfield do. (ir_datasets passes the raw code through
  and reads 4 as best, the reverse of Cleverdon's definitions, and keys queries by ``.I``;
  neither is followed here. Measured with bm25s: nDCG@10 0.365 as here, 0.338 with raw codes
  as gains, 0.012 with queries keyed by ``.I``.) One split, ``all`` (225 queries).

Dense vectors: ragstore's default embedder (all-MiniLM-L6-v2, ONNX int8) over each corpus and
its queries, computed once and cached in ``benchmarks/.cache/judged-<name>-minilm-int8.npz``
(keyed by a fingerprint of every text, so a changed loader embeds again).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _datasets import CACHE_DIR, SHARED_DATA

RETRIEVAL_DIR = SHARED_DATA / "retrieval"
COLLECTIONS = ("scifact", "nfcorpus", "vaswani", "cranfield")
EMBEDDER_LABEL = "all-MiniLM-L6-v2 ONNX int8 (ragstore's DefaultEmbeddingFunction)"

Qrels = dict[str, dict[str, int]]  # query id -> {document id: gain > 0}


@dataclass
class JudgedCollection:
    """One judged collection: its documents, and per split its queries and graded relevance judgements.

    Example:
        >>> docs = [("d1", "a cat"), ("d2", "a dog")]
        >>> c = JudgedCollection("toy", "two docs", docs, {"test": {"q1": "cat"}}, {"test": {"q1": {"d1": 1}}})
        >>> c.doc_ids, c.splits
        (['d1', 'd2'], ['test'])
    """

    name: str
    description: str
    documents: list[tuple[str, str]]  # (id, text) in file order
    queries: dict[str, dict[str, str]]  # split -> {query id: text}, judged queries only, in file order
    qrels: dict[str, Qrels]  # split -> {query id: {document id: gain}}, gains > 0 only
    notes: list[str] = field(default_factory=list)

    @property
    def doc_ids(self) -> list[str]:
        """Document ids in file order."""
        return [doc_id for doc_id, _ in self.documents]

    @property
    def texts(self) -> list[str]:
        """Document texts in file order."""
        return [text for _, text in self.documents]

    @property
    def splits(self) -> list[str]:
        """The splits that have queries, e.g. ``["train", "test"]``."""
        return list(self.queries)


# -- metrics (pytrec_eval's definitions, as BEIR reports them) ---------------------------------


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """nDCG@k with linear graded gains (``gain / log2(rank + 1)``), as pytrec_eval's ``ndcg_cut`` computes it for BEIR.

    Example:
        >>> round(ndcg_at(["b", "a"], {"a": 2, "b": 1}, 10), 4)
        0.8597
    """
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top ``k``.

    Example:
        >>> recall_at(["a", "x", "b"], {"a": 1, "b": 1}, 2)
        0.5
    """
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


@dataclass(frozen=True)
class Quality:
    """Mean nDCG@10 and recall@100 over the judged queries of one run."""

    ndcg_at_10: float
    recall_at_100: float
    queries: int


def quality(runs: Mapping[str, Sequence[str]], qrels: Qrels) -> Quality:
    """Mean nDCG@10 and recall@100 of ``runs`` (query id -> ranked document ids) over every query in ``qrels``.

    A judged query missing from ``runs`` counts as an empty ranking (0), as trec_eval's ``-c`` does.

    Example:
        >>> quality({"q": ["a", "b"]}, {"q": {"a": 1}})
        Quality(ndcg_at_10=1.0, recall_at_100=1.0, queries=1)
    """
    ndcg = [ndcg_at(runs.get(q, []), rel, 10) for q, rel in qrels.items()]
    recall = [recall_at(runs.get(q, []), rel, 100) for q, rel in qrels.items()]
    return Quality(sum(ndcg) / len(ndcg), sum(recall) / len(recall), len(ndcg))


# -- loaders ------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> Iterable[dict[str, str]]:
    """The records of a JSON-lines file."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _judged_only(queries: dict[str, str], qrels: Qrels) -> dict[str, str]:
    """The queries that have a relevant document, in file order (every other query scores nothing anywhere)."""
    return {q: text for q, text in queries.items() if q in qrels}


def _one_split(name: str, description: str, documents: list[tuple[str, str]], texts: dict[str, str], qrels: Qrels) -> JudgedCollection:
    """A collection whose every query is in one split, ``all`` (Vaswani, Cranfield), its unjudged queries left out."""
    return JudgedCollection(name, description, documents, queries={"all": _judged_only(texts, qrels)}, qrels={"all": qrels})


def read_beir_qrels(path: Path) -> Qrels:
    """``{query_id: {doc_id: grade}}`` from a BEIR qrels TSV (header line, CRLF tolerated), grades > 0 only."""
    qrels: Qrels = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            query_id, doc_id, grade = line.strip().split("\t")
            if int(grade) > 0:
                qrels.setdefault(query_id, {})[doc_id] = int(grade)
    return qrels


def read_trec_qrels(path: Path) -> Qrels:
    """``{query_id: {doc_id: grade}}`` from a TREC qrels file (``qid iteration docid grade``), grades > 0 only."""
    qrels: Qrels = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            query_id, _, doc_id, grade = line.split()
            if int(grade) > 0:
                qrels.setdefault(query_id, {})[doc_id] = int(grade)
    return qrels


def scifact(root: Path = RETRIEVAL_DIR / "scifact") -> JudgedCollection:
    """BEIR SciFact: 5,183 abstracts (``title + " " + text``), 809 train and 300 test queries."""
    documents = [(row["_id"], f"{row['title']} {row['text']}") for row in read_jsonl(root / "corpus.jsonl")]
    texts = {row["_id"]: row["text"] for row in read_jsonl(root / "queries.jsonl")}
    qrels = {split: read_beir_qrels(root / "qrels" / f"{split}.tsv") for split in ("train", "test")}
    return JudgedCollection(
        name="scifact",
        description="BEIR SciFact: scientific claims vs. abstracts",
        documents=documents,
        queries={split: _judged_only(texts, qrels[split]) for split in qrels},
        qrels=qrels,
    )


def _tsv(path: Path) -> dict[str, str]:
    rows = (line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {row[0]: row[1].strip() for row in rows}


NFCORPUS_QUERY_FIELDS = ("titles", "all", "vid-titles", "vid-desc", "nontopic-titles")


def nfcorpus(root: Path = RETRIEVAL_DIR / "nfcorpus_test", query_field: str = "titles") -> JudgedCollection:
    """NFCorpus test split: 3,162 medical abstracts, the 323 judged queries of ``test.<query_field>.queries``, 2-1-0 grades.

    ``titles`` reproduces BEIR's queries (see the module docstring); the other fields exist for comparison.
    """
    if query_field not in NFCORPUS_QUERY_FIELDS:
        raise ValueError(f"unknown NFCorpus query field {query_field!r}; choose one of {', '.join(NFCORPUS_QUERY_FIELDS)}")
    qrels = read_trec_qrels(root / "test.2-1-0.qrel")
    queries = _judged_only(_tsv(root / f"test.{query_field}.queries"), qrels)
    return JudgedCollection(
        name="nfcorpus" if query_field == "titles" else f"nfcorpus-{query_field}",
        description=f"NFCorpus test: nutrition questions ({query_field}) vs. medical abstracts (lowercased, stop words removed)",
        documents=list(_tsv(root / "test.docs").items()),
        queries={"test": queries},
        qrels={"test": {q: qrels[q] for q in queries}},
    )


_TREC_DOC = re.compile(r"<DOC>\s*<DOCNO>(.*?)</DOCNO>(.*?)</DOC>", re.S)
_TREC_TOP = re.compile(r"<top>\s*<num>(.*?)</num>\s*<title>(.*?)</title>\s*</top>", re.S)


def vaswani(root: Path = RETRIEVAL_DIR / "vaswani") -> JudgedCollection:
    """Vaswani (NPL): 11,429 physics abstracts, 93 queries, binary qrels."""
    corpus = (root / "corpus" / "doc-text.trec").read_text(encoding="utf-8")
    documents = [(m.group(1).strip(), " ".join(m.group(2).split())) for m in _TREC_DOC.finditer(corpus)]
    topics = (root / "query-text.trec").read_text(encoding="utf-8")
    texts = {m.group(1).strip(): " ".join(m.group(2).split()) for m in _TREC_TOP.finditer(topics)}
    return _one_split("vaswani", "Vaswani NPL: physics abstracts", documents, texts, read_trec_qrels(root / "qrels"))


def _cranfield_records(path: Path) -> list[dict[str, str]]:
    """``.I``-led records of a Cranfield file as ``{"I": id, "T": ..., "W": ...}`` (field text joined by spaces)."""
    records: list[dict[str, str]] = []
    current = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(".I"):
            records.append({"I": line[2:].strip()})
            current = "I"
        elif len(line) == 2 and line.startswith(".") and records:
            current = line[1]
            records[-1].setdefault(current, "")
        elif records and current != "I":
            records[-1][current] = f"{records[-1][current]} {line.strip()}".strip()
    return records


def cranfield_gain(code: int) -> int:
    """Cleverdon's relevance code (1 = complete answer ... 4 = minimum interest, -1 = none) as a gain (4 ... 1, 0).

    Example:
        >>> [cranfield_gain(code) for code in (1, 2, 3, 4, -1)]
        [4, 3, 2, 1, 0]
    """
    return 5 - code if 1 <= code <= 4 else 0


def cranfield(root: Path = RETRIEVAL_DIR / "cranfield") -> JudgedCollection:
    """Cranfield 1400: aeronautics abstracts, 225 queries numbered in file order, Cleverdon's codes as gains 4..1."""
    documents = [(record["I"], record.get("W", "")) for record in _cranfield_records(root / "cran.all.1400")]
    # qrels number the queries 1..225 in file order; the .I ids skip numbers and would match the wrong judgements
    texts = {str(position): record.get("W", "") for position, record in enumerate(_cranfield_records(root / "cran.qry"), start=1)}
    qrels: Qrels = {}
    for line in (root / "cranqrel").read_text(encoding="utf-8").splitlines():
        if line.strip():
            query_id, doc_id, code = line.split()
            if gain := cranfield_gain(int(code)):
                qrels.setdefault(query_id, {})[doc_id] = gain
    return _one_split("cranfield", "Cranfield 1400: aeronautics abstracts, graded (gain = 5 - Cleverdon code)", documents, texts, qrels)


LOADERS = {"scifact": scifact, "nfcorpus": nfcorpus, "vaswani": vaswani, "cranfield": cranfield}


def load(name: str) -> JudgedCollection:
    """The named collection (one of :data:`COLLECTIONS`, or ``nfcorpus-<field>`` for another NFCorpus query file)."""
    if name.startswith("nfcorpus-"):
        return nfcorpus(query_field=name.removeprefix("nfcorpus-"))
    if name not in LOADERS:
        raise ValueError(f"unknown collection {name!r}; choose from {', '.join(COLLECTIONS)}")
    return LOADERS[name]()


# -- dense vectors, cached ----------------------------------------------------------------------


@dataclass
class DenseVectors:
    """Unit-length MiniLM vectors of a collection's documents (file order) and of its queries by id."""

    documents: np.ndarray  # (n, 384) float32
    queries: dict[str, np.ndarray]  # query id -> (384,) float32

    def for_split(self, collection: JudgedCollection, split: str) -> tuple[list[str], np.ndarray]:
        """The query ids of ``split`` and their vectors stacked in that order."""
        ids = list(collection.queries[split])
        return ids, np.stack([self.queries[q] for q in ids]) if ids else np.zeros((0, self.documents.shape[1]), np.float32)


def _all_queries(collection: JudgedCollection) -> dict[str, str]:
    merged: dict[str, str] = {}
    for split in collection.queries.values():
        merged.update(split)
    return merged


def fingerprint(collection: JudgedCollection) -> str:
    """SHA-256 over the embedder label and every document and query (id and text): the cache key."""
    digest = hashlib.sha256(EMBEDDER_LABEL.encode())
    for doc_id, text in collection.documents:
        digest.update(f"\0d{doc_id}\0{text}".encode())
    for query_id, text in _all_queries(collection).items():
        digest.update(f"\0q{query_id}\0{text}".encode())
    return digest.hexdigest()


def cache_path(collection: JudgedCollection) -> Path:
    """Where the collection's vectors are cached."""
    return CACHE_DIR / f"judged-{collection.name}-minilm-int8.npz"


def dense_vectors(collection: JudgedCollection) -> DenseVectors:
    """MiniLM vectors of the collection's documents and queries, from the cache or embedded once and cached.

    Embedding takes about 70 s for SciFact on two cores; a cached run loads in well under a second.
    """
    path, key = cache_path(collection), fingerprint(collection)
    queries = _all_queries(collection)
    if path.exists():
        cached = np.load(path)
        if str(cached["fingerprint"]) == key:
            return DenseVectors(cached["documents"], dict(zip(cached["query_ids"].tolist(), cached["queries"], strict=True)))
        print(f"{path} is stale (its texts changed); embedding again", file=sys.stderr)
    from ragstore.embeddings import DefaultEmbeddingFunction

    function = DefaultEmbeddingFunction()
    print(
        f"embedding {collection.name}: {len(collection.documents):,} documents and {len(queries)} queries (once)...",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    documents = np.asarray(function(collection.texts), dtype=np.float32)
    query_vectors = np.asarray(function.embed_query(list(queries.values())), dtype=np.float32)
    print(f"embedded in {time.perf_counter() - started:.0f} s; cached in {path}", file=sys.stderr)
    CACHE_DIR.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, fingerprint=np.array(key), documents=documents, query_ids=np.array(list(queries)), queries=query_vectors)
    tmp.replace(path)  # a run killed mid-write leaves no half cache behind
    return DenseVectors(documents, dict(zip(queries, query_vectors, strict=True)))


if __name__ == "__main__":
    # `python benchmarks/_judged.py [names...]` prints each collection's shape and fills its vector cache.
    for name in sys.argv[1:] or COLLECTIONS:
        judged = load(name)
        vectors = dense_vectors(judged)
        splits = ", ".join(
            f"{s}: {len(judged.queries[s])} queries, {sum(map(len, judged.qrels[s].values()))} judgements" for s in judged.splits
        )
        print(f"{judged.name}: {len(judged.documents):,} documents, {vectors.documents.shape[1]}-dim; {splits}")
