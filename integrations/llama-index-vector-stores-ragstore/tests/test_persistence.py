"""Persistence: a subprocess writes through from_params(persist_dir=...), this process reads it back."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery

from llama_index.vector_stores.ragstore import RagstoreVectorStore

WRITER = textwrap.dedent(
    """
    import sys
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.vector_stores.ragstore import RagstoreVectorStore

    store = RagstoreVectorStore.from_params("persisted", persist_dir=sys.argv[1])
    nodes = []
    for i in range(5):
        node = TextNode(id_=f"p{i}", text=f"persisted text {i}", embedding=[float(i), 1.0], metadata={"i": i, "tags": ["t", str(i)]})
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id="doc")
        nodes.append(node)
    store.add(nodes)
    store.close()
    print("written")
    """
)


def test_written_in_a_subprocess_read_back(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "written"
    store = RagstoreVectorStore.from_params("persisted", persist_dir=str(tmp_path))
    try:
        nodes = store.get_nodes()
        assert [n.node_id for n in nodes] == [f"p{i}" for i in range(5)]
        assert nodes[3].get_content() == "persisted text 3" and nodes[3].metadata == {"i": 3, "tags": ["t", "3"]}
        assert {n.ref_doc_id for n in nodes} == {"doc"}
        flt = MetadataFilters(filters=[MetadataFilter(key="tags", value="4", operator=FilterOperator.CONTAINS)])
        assert store.query(VectorStoreQuery(query_embedding=[0.0, 1.0], similarity_top_k=3, filters=flt)).ids == ["p4"]
        store.add([TextNode(id_="p0", text="replaced", embedding=[0.0, 1.0])])
    finally:
        store.close()
    again = RagstoreVectorStore.from_params("persisted", persist_dir=str(tmp_path))
    try:
        assert [n.get_content() for n in again.get_nodes(["p0"])] == ["replaced"]
        assert again.client.count() == 5
    finally:
        again.close()
