"""``ragstore query``: search a collection.

``query`` searches hybrid (dense and BM25 fused) when the collection has a BM25 index
(collections ``ragstore ingest`` creates do), else dense; ``--mode`` chooses.

The score shown depends on the mode. Dense: the relevance of :mod:`ragstore.relevance`, the cosine
similarity of query and chunk clipped to [0, 1] (the same number the chatbot and the LangChain and
LlamaIndex integrations show; a good hit is typically 0.5-0.7, an unrelated one near 0.1-0.2).
Hybrid: the fused score (the sum of each side's normalised score, halved), in [0, 1] for the usual
spread but not a similarity. BM25: BM25's own score, unbounded.

Example:
    >>> score(0.9065, "l2", "dense")  # doctest: +ELLIPSIS
    0.546...
    >>> score(-1.2, "l2", "hybrid")
    0.6

"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ragstore.cli.query_text import model_window_note, query_text
from ragstore.cli.store import EMBEDDING_HELP, open_client, open_collection, store_options
from ragstore.collection_schema import has_bm25_index
from ragstore.configuration import hnsw_settings
from ragstore.relevance import relevance


def score(distance: float, space: str, mode: str) -> float:
    """The score shown for a hit: the relevance (dense), the fused score (hybrid), or BM25's (see the module docstring)."""
    if mode == "hybrid":
        return max(0.0, min(1.0, -distance / 2))  # DBSF adds each side's score, about 0 to 1 each
    if mode == "bm25":
        return 1.0 - distance
    return relevance(distance, space)


def json_option(value: str | None, flag: str) -> Any:
    """The JSON an option holds (``None`` when not given); a :class:`click.BadParameter` naming ``flag`` when it is not JSON.

    Example:
        >>> json_option('{"source": "a.md"}', "--where")
        {'source': 'a.md'}

    """
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=flag) from None


def snippet(text: str | None, width: int = 160) -> str:
    r"""``text`` on one line, cut to ``width`` characters with an ellipsis.

    Example:
        >>> snippet("a  long\ntext", width=8)
        'a long …'

    """
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def hit_source(source: Any, page: Any, id_: str) -> str:
    """Where a record came from, for a table: its ``source`` (else its id) and page.

    Example:
        >>> hit_source("guide.pdf", 3, "x"), hit_source(None, None, "rec-1")
        ('guide.pdf p.3', 'rec-1')

    """
    where_in = str(source) if source else id_
    return where_in if page is None else f"{where_in} p.{page}"


@click.command()
@click.argument("text")
@click.option("--collection", "-c", required=True, help="Collection to search.")
@store_options
@click.option("-k", "--n-results", "k", default=5, show_default=True, type=click.IntRange(1, 1000), help="How many hits.")
@click.option("--where", default=None, help='Metadata filter as JSON, e.g. \'{"source": "guide.md"}\'.')
@click.option(
    "--where-document",
    default=None,
    help='Filter on the chunk text as JSON, e.g. \'{"$contains": "proxy"}\' ($contains, $not_contains, $regex, $not_regex, $and, $or).',
)
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON instead of a table.")
@click.option("--embedding", default=None, help=EMBEDDING_HELP)
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "dense", "bm25"]),
    default=None,
    help="hybrid: dense and BM25 fused (score: the fused score, 0-1); dense: embeddings only (score: relevance, the cosine "
    "similarity clipped to 0-1); bm25: words only (score: BM25's). Default: hybrid if the collection has a BM25 index.",
)
def query(
    text: str,
    collection: str,
    k: int,
    where: str | None,
    where_document: str | None,
    as_json: bool,
    embedding: str | None,
    mode: str | None,
    **store: Any,  # what @store_options adds: only open_client reads it
) -> None:
    """Print the chunks nearest to TEXT with their score and source.

    A query longer than the embedding model's window (256 word pieces for the default) is cut for the dense
    side of the search, and the command says so.
    """
    text, cut = query_text(text)
    where_filter = json_option(where, "--where")
    document_filter = json_option(where_document, "--where-document")
    client = open_client(**store, must_exist=True)
    try:
        target = open_collection(client, collection, embedding, create=False)
        space = hnsw_settings(target.configuration).space
        has_bm25 = has_bm25_index(target.schema)
        mode = mode or ("hybrid" if has_bm25 else "dense")
        if mode != "dense" and not has_bm25:
            raise click.ClickException(
                f"Collection {collection!r} has no BM25 index (collections made by 'ragstore ingest' have one); use --mode dense"
            )
        if mode != "bm25" and target.embedding_function is None:
            raise click.ClickException(
                f"Collection {collection!r} records no embedding function (it was made outside ragstore, e.g. through LlamaIndex "
                "with its own embedder), so the query cannot be embedded: pass --embedding naming the one its vectors were made with"
                + (", or use --mode bm25" if has_bm25 else "")
            )
        notes = [cut, model_window_note(target.embedding_function, text) if mode != "bm25" else None]
        for note in filter(None, notes):
            click.echo(note, err=True)
        include = ["documents", "metadatas", "distances"]
        result = target.query(
            query_texts=[text], n_results=k, where=where_filter, where_document=document_filter, include=include, mode=mode
        )
    finally:
        client.close()
    hits: list[dict[str, Any]] = []
    for id_, doc, meta, distance in zip(
        result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
    ):
        meta = meta or {}
        hits.append(
            {
                "id": id_,
                "score": round(score(distance, space, mode), 4),
                "distance": distance,
                "source": meta.get("source"),
                "page": meta.get("page"),
                "headers": meta.get("headers"),
                "document": doc,
                "metadata": meta,
            }
        )
    if as_json:
        click.echo(json.dumps(hits, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{len(hits)} hits in '{collection}' for {text!r} ({mode})")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("source")
    table.add_column("text")
    for rank, hit in enumerate(hits, 1):
        table.add_row(str(rank), f"{hit['score']:.3f}", hit_source(hit["source"], hit["page"], hit["id"]), snippet(hit["document"]))
    Console().print(table)
