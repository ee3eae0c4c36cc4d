"""``ragstore query`` (search a collection) and ``ragstore collections`` (list them).

``query`` searches hybrid (dense and BM25 fused) when the collection has a BM25 index
(collections ``ragstore ingest`` creates do), else dense; ``--mode`` chooses.

Dense scores are similarities in [0, 1] derived from the collection's distance
(``1 - d`` for cosine and inner product on normalised vectors, ``1 - d/4``
clipped for squared L2 on unit vectors, whose distances lie in [0, 4]); hybrid scores
are the fused score over its two sides, in [0, 1] for the usual spread; BM25 scores are BM25's.

Example:
    >>> similarity(0.25, "cosine"), similarity(1.0, "l2")
    (0.75, 0.75)

"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ragstore.cli.store import EMBEDDING_HELP, open_client, open_collection, store_options
from ragstore.collection_schema import has_bm25_index
from ragstore.configuration import hnsw_settings


def similarity(distance: float, space: str) -> float:
    """A score in [0, 1] (higher is closer) for a distance in ``space``."""
    score = 1.0 - distance / 4.0 if space == "l2" else 1.0 - distance
    return max(0.0, min(1.0, score))


def _score(distance: float, space: str, mode: str) -> float:
    """The score shown for a hit: a similarity (dense), the fused score per side (hybrid), or BM25's."""
    if mode == "hybrid":
        return max(0.0, min(1.0, -distance / 2))  # DBSF adds each side's score, about 0 to 1 each
    if mode == "bm25":
        return 1.0 - distance
    return similarity(distance, space)


def _snippet(text: str | None, width: int = 160) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@click.command()
@click.argument("text")
@click.option("--collection", "-c", required=True, help="Collection to search.")
@store_options
@click.option("-k", "--n-results", "k", default=5, show_default=True, type=click.IntRange(1, 1000), help="How many hits.")
@click.option("--where", default=None, help='Metadata filter as JSON, e.g. \'{"source": "guide.md"}\'.')
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON instead of a table.")
@click.option("--embedding", default=None, help=EMBEDDING_HELP)
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "dense", "bm25"]),
    default=None,
    help="hybrid: dense and BM25 fused; dense: embeddings only; bm25: words only. Default: hybrid if the collection has a BM25 index.",
)
def query(
    text: str,
    collection: str,
    k: int,
    where: str | None,
    as_json: bool,
    embedding: str | None,
    mode: str | None,
    **store: Any,  # what @store_options adds: only open_client reads it
) -> None:
    """Print the chunks nearest to TEXT with their score and source."""
    try:
        where_filter = json.loads(where) if where else None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--where") from None
    client = open_client(**store)
    target = open_collection(client, collection, embedding, create=False)
    space = hnsw_settings(target.configuration).space
    has_bm25 = has_bm25_index(target.schema)
    mode = mode or ("hybrid" if has_bm25 else "dense")
    if mode != "dense" and not has_bm25:
        client.close()
        raise click.ClickException(
            f"Collection {collection!r} has no BM25 index (collections made by 'ragstore ingest' have one); use --mode dense"
        )
    include = ["documents", "metadatas", "distances"]
    result = target.query(query_texts=[text], n_results=k, where=where_filter, include=include, mode=mode)
    client.close()
    hits: list[dict[str, Any]] = []
    for id_, doc, meta, distance in zip(
        result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
    ):
        meta = meta or {}
        hits.append(
            {
                "id": id_,
                "score": round(_score(distance, space, mode), 4),
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
        where_in = hit["source"] or hit["id"]
        if hit["page"] is not None:
            where_in += f" p.{hit['page']}"
        table.add_row(str(rank), f"{hit['score']:.3f}", where_in, _snippet(hit["document"]))
    Console().print(table)


@click.command()
@store_options
def collections(**store: Any) -> None:
    """List the store's collections with their record counts."""
    client = open_client(**store)
    table = Table(title="Collections")
    for column in ("name", "records", "space", "embedding"):
        table.add_column(column, justify="right" if column == "records" else "left")
    for col in client.list_collections():
        ef = col.configuration.get("embedding_function") or {}
        table.add_row(col.name, str(col.count()), hnsw_settings(col.configuration).space, str(ef.get("name", "")))
    client.close()
    Console().print(table)
