"""A BERT sentence encoder as an ONNX graph, built from safetensors weights with the ``onnx`` package.

No package ships all-MiniLM-L6-v2 as ONNX, and exporting through ``torch.onnx``
would make torch a dependency of the fast path. A BERT encoder is a short, fixed
recipe, so this module writes it down directly, node by node, from the weights
a sentence-transformers folder holds (``model.safetensors`` + ``config.json``):

- embeddings: word + position + token type 0, then LayerNorm;
- each layer: self-attention (softmax(QK^T / sqrt(d) + mask) V), output dense,
  residual + LayerNorm, GELU feed-forward, residual + LayerNorm (post-norm BERT);
- pooling: the mean of the unmasked tokens (or the ``[CLS]`` token), then
  optionally unit length, as sentence-transformers' ``Pooling`` + ``Normalize``.

``precision="fp32"`` gives the same vectors as sentence-transformers (cosine
1.00000 on real text). ``precision="int8"`` quantises every weight matrix to int8 (symmetric, one
scale per output column) and runs ONNX Runtime's ``DynamicQuantizeMatMul``
(activations quantised to 8 bits at run time, one scale per matrix input):
about twice as fast as float32 on a CPU with VNNI. The ``[CLS]`` token carries
activations 5-10x larger than the other tokens' in a few channels (28 against a
median of 3.5 in channel 99 of every layer's feed-forward input); quantised
together, every other token would keep only a few levels. So ``[CLS]`` is
quantised on its own scale and the rest of the sequence on another: on
validation text the worst cosine to the float32 vectors goes from 0.983 to
0.994 for ~5% of the speed. (SmoothQuant's per-channel scaling was tried too:
it lowered the worst cosine once ``[CLS]`` had its own scale.)

Example:
    >>> import numpy as np
    >>> from ragstore.embeddings.onnx.graph import BertShape, tiny_bert_weights, build_graph
    >>> shape = BertShape(hidden=8, heads=2, layers=1, intermediate=16, vocab=20, positions=16)
    >>> model = build_graph(tiny_bert_weights(shape), shape)
    >>> [i.name for i in model.graph.input], [o.name for o in model.graph.output]
    (['input_ids', 'attention_mask'], ['sentence_embedding'])

"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Weights = Mapping[str, npt.NDArray[Any]]

OPSET = 20  # Gelu is a standard op from opset 20; LayerNormalization from 17. ONNX Runtime >= 1.17 runs both.


@dataclass(frozen=True)
class BertShape:
    """The hyper-parameters the graph needs (read from ``config.json`` and the sentence-transformers files).

    Example:
        >>> BertShape(hidden=384, heads=12, layers=6, intermediate=1536).head_size
        32

    """

    hidden: int
    heads: int
    layers: int
    intermediate: int
    vocab: int = 30522
    positions: int = 512
    layer_norm_eps: float = 1e-12
    pooling: str = "mean"  # "mean" or "cls"
    normalize: bool = True
    max_tokens: int = 256

    @property
    def head_size(self) -> int:
        """Width of one attention head."""
        return self.hidden // self.heads

    @classmethod
    def from_folder(cls, folder: str | Path) -> BertShape:
        """Read a sentence-transformers folder's ``config.json``, pooling, normalisation and window.

        Raises:
            ValueError: The folder holds no BERT-family model this builder can write.

        """
        root = Path(folder)
        config = json.loads((root / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") not in {"bert"} or config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{root} holds a {config.get('model_type')!r} model; the ONNX builder writes BERT encoders with GELU")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{root}: only absolute position embeddings are supported")
        pooling, normalize, max_tokens = "mean", False, int(config.get("max_position_embeddings", 512))
        pooling_file = root / "1_Pooling" / "config.json"
        if pooling_file.exists():
            pool = json.loads(pooling_file.read_text(encoding="utf-8"))
            if pool.get("pooling_mode_cls_token"):
                pooling = "cls"
            elif not pool.get("pooling_mode_mean_tokens", True):
                raise ValueError(f"{pooling_file}: only mean or CLS pooling is supported")
        modules_file = root / "modules.json"
        if modules_file.exists():
            modules = json.loads(modules_file.read_text(encoding="utf-8"))
            normalize = any(m.get("type", "").endswith("Normalize") for m in modules)
        st_file = root / "sentence_bert_config.json"
        if st_file.exists():
            max_tokens = int(json.loads(st_file.read_text(encoding="utf-8")).get("max_seq_length") or max_tokens)
        return cls(
            hidden=int(config["hidden_size"]),
            heads=int(config["num_attention_heads"]),
            layers=int(config["num_hidden_layers"]),
            intermediate=int(config["intermediate_size"]),
            vocab=int(config["vocab_size"]),
            positions=int(config.get("max_position_embeddings", 512)),
            layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
            pooling=pooling,
            normalize=normalize,
            max_tokens=min(max_tokens, int(config.get("max_position_embeddings", 512))),
        )


class _GraphWriter:
    """Collects nodes and initialisers; names every value uniquely."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.zero = self.const("zero", np.array([0], np.int64))
        self.one = self.const("one_index", np.array([1], np.int64))
        self.end = self.const("end_index", np.array([np.iinfo(np.int64).max], np.int64))
        self.axis1 = self.const("axis_1", np.array([1], np.int64))

    def const(self, name: str, array: npt.NDArray[Any]) -> str:
        from onnx import numpy_helper

        array = np.asarray(array)  # not ascontiguousarray: it makes a 0-d index 1-d, and Gather would keep the axis
        self.initializers.append(numpy_helper.from_array(array if array.flags.c_contiguous else array.copy(), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str | None = None, domain: str = "", **attrs: Any) -> str:
        from onnx import helper

        name = name or f"{op_type}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, domain=domain, **attrs))
        return name


def build_graph(
    weights: Weights,
    shape: BertShape,
    *,
    precision: str = "fp32",
) -> Any:
    """The ONNX ``ModelProto`` of a BERT sentence encoder.

    Inputs ``input_ids`` and ``attention_mask`` (int64, ``[batch, tokens]``, padded on the
    right); output ``sentence_embedding`` (float32, ``[batch, hidden]``).

    Args:
        weights: Hugging Face BERT tensor names (with or without a ``bert.`` prefix) to arrays.
        shape: The model's hyper-parameters.
        precision: ``"fp32"`` (exact) or ``"int8"`` (weights int8, activations quantised at run time).

    Raises:
        ValueError: Unknown precision, or a weight is missing or has the wrong shape.

    """
    from onnx import TensorProto, helper

    if precision not in {"fp32", "int8"}:
        raise ValueError(f"precision must be 'fp32' or 'int8', got {precision!r}")
    w = _Params(weights)
    g = _GraphWriter()

    # Embeddings. Token type ids are always 0 for a sentence encoder, so that row is a constant.
    tokens = g.op("Shape", ["input_ids"], start=1, end=2)
    words = _word_embeddings(g, w.get("embeddings.word_embeddings.weight", (shape.vocab, shape.hidden)), precision)
    table = w.get("embeddings.position_embeddings.weight", (shape.positions, shape.hidden))
    positions = g.op("Slice", [g.const("position_embeddings", table), g.zero, tokens, g.const("axis_0", np.array([0], np.int64))])
    type0 = w.get("embeddings.token_type_embeddings.weight", (None, shape.hidden))[0]
    summed = g.op("Add", [g.op("Add", [words, positions]), g.const("token_type_0", type0)])
    x = _layer_norm(g, w, summed, "embeddings.LayerNorm", shape)

    # Additive attention mask, [batch, 1, 1, tokens]: 0 where attended, the float32 minimum where padded (as transformers).
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask4 = g.op("Unsqueeze", [mask, g.const("axes_1_2", np.array([1, 2], np.int64))])
    one = g.const("one", np.array(1.0, np.float32))
    bias = g.op("Mul", [g.op("Sub", [one, mask4]), g.const("float_min", np.array(np.finfo(np.float32).min, np.float32))])
    to_heads = g.const("to_heads", np.array([0, 0, shape.heads, shape.head_size], np.int64))
    to_hidden = g.const("to_hidden", np.array([0, 0, shape.hidden], np.int64))
    scale = g.const("attention_scale", np.array(1.0 / np.sqrt(shape.head_size), np.float32))

    for i in range(shape.layers):
        p = f"encoder.layer.{i}."
        layer = _Linears(g, w, precision)
        q = layer.linear(x, p + "attention.self.query")
        k = layer.linear(x, p + "attention.self.key")
        v = layer.linear(x, p + "attention.self.value")
        qh = g.op("Transpose", [g.op("Reshape", [q, to_heads])], perm=[0, 2, 1, 3])
        kh = g.op("Transpose", [g.op("Reshape", [k, to_heads])], perm=[0, 2, 3, 1])
        vh = g.op("Transpose", [g.op("Reshape", [v, to_heads])], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [qh, kh]), scale]), bias])
        context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), vh])
        context = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), to_hidden])
        attended = layer.linear(context, p + "attention.output.dense")
        x = _layer_norm(g, w, g.op("Add", [attended, x]), p + "attention.output.LayerNorm", shape)
        out = layer.linear(g.op("Gelu", [layer.linear(x, p + "intermediate.dense")]), p + "output.dense")
        x = _layer_norm(g, w, g.op("Add", [out, x]), p + "output.LayerNorm", shape)

    g.nodes.append(helper.make_node("Identity", [_pool(g, x, shape)], ["sentence_embedding"], name="sentence_embedding"))
    outputs = [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", shape.hidden])]
    graph = helper.make_graph(
        g.nodes,
        "sentence-encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        outputs,
        g.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET)]
    if precision != "fp32":
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="ragstore")
    model.ir_version = 9  # the newest IR every supported ONNX Runtime reads
    return model


class _Params:
    """The weight dictionary, with shape checks and either naming (``bert.``-prefixed or not)."""

    def __init__(self, weights: Weights) -> None:
        self.weights = weights

    def get(self, name: str, expected: tuple[int | None, ...]) -> npt.NDArray[np.float32]:
        array = self.weights.get(name)
        if array is None:
            array = self.weights.get("bert." + name)
        if array is None:
            raise ValueError(f"weight {name!r} is missing")
        if len(array.shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, array.shape, strict=True)):
            raise ValueError(f"weight {name!r} has shape {tuple(array.shape)}, expected {expected}")
        return np.asarray(array, dtype=np.float32)


class _Linears:
    """The dense layers of one encoder layer, in float32 or int8."""

    def __init__(self, g: _GraphWriter, w: _Params, precision: str) -> None:
        self.g, self.w, self.precision = g, w, precision

    def linear(self, x: str, name: str) -> str:
        """``x @ W^T + b`` for the torch-layout weight ``name``."""
        weight = self.w.get(name + ".weight", (None, None)).T  # [in, out]
        bias = self.w.get(name + ".bias", (weight.shape[1],))
        tag = name.replace("encoder.layer.", "layer").replace(".", "_")
        g = self.g
        if self.precision == "fp32":
            product = g.op("MatMul", [x, g.const(tag + "_weight", weight)], name=tag + "_matmul")
            return g.op("Add", [product, g.const(tag + "_bias", bias)], name=tag + "_bias_add")
        quantized, column_scale = quantize_columns(weight)
        inputs = [g.const(tag + "_weight_int8", quantized), g.const(tag + "_weight_scale", column_scale), "", g.const(tag + "_bias", bias)]
        # [CLS] on its own activation scale (see the module docstring): two products, joined again along the tokens.
        first, rest = g.op("Slice", [x, g.zero, g.one, g.axis1]), g.op("Slice", [x, g.one, g.end, g.axis1])
        quantized_first = g.op("DynamicQuantizeMatMul", [first, *inputs], name=tag + "_int8_cls", domain="com.microsoft")
        quantized_rest = g.op("DynamicQuantizeMatMul", [rest, *inputs], name=tag + "_int8", domain="com.microsoft")
        return g.op("Concat", [quantized_first, quantized_rest], axis=1)


def quantize_columns(weight: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Symmetric int8 per output column: ``weight ~= quantized * scale``.

    Example:
        >>> q, s = quantize_columns(np.array([[1.0, -0.5], [-2.0, 0.25]], np.float32))
        >>> q.tolist(), np.round(s * 127, 3).tolist()
        ([[64, -127], [-127, 64]], [2.0, 0.5])

    """
    scale = np.abs(weight).max(axis=0) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    quantized = np.clip(np.rint(weight / scale), -127, 127).astype(np.int8)
    return quantized, scale


def _word_embeddings(g: _GraphWriter, table: npt.NDArray[np.float32], precision: str) -> str:
    """The rows of ``input_ids``; in int8 models the table is kept as float16.

    The word table is 30,522 x 384 floats, 47 of the int8 model's 58 MB. As float16 it halves, so
    the cached file is read, checked and handed to ONNX Runtime faster (the whole model 58 -> 35 MB);
    against torch's vectors on 1,000 chunks the worst cosine goes 0.99475 -> 0.99360 and the mean
    stays 0.9980. int8 rows with a scale each (12 MB) were tried: the worst cosine fell to 0.99206.
    """
    if precision == "fp32":
        return g.op("Gather", [g.const("word_embeddings", table), "input_ids"])
    from onnx import TensorProto

    half = g.op("Gather", [g.const("word_embeddings_float16", table.astype(np.float16)), "input_ids"])
    return g.op("Cast", [half], to=TensorProto.FLOAT)


def _layer_norm(g: _GraphWriter, w: _Params, x: str, name: str, shape: BertShape) -> str:
    gamma = g.const(name + ".weight", w.get(name + ".weight", (shape.hidden,)))
    beta = g.const(name + ".bias", w.get(name + ".bias", (shape.hidden,)))
    return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=shape.layer_norm_eps)


def _pool(g: _GraphWriter, x: str, shape: BertShape) -> str:
    """Mean of the unmasked tokens (sentence-transformers' clamp at 1e-9) or ``[CLS]``; then unit length if asked."""
    from onnx import TensorProto

    if shape.pooling == "cls":
        pooled = g.op("Gather", [x, g.const("cls_index", np.array(0, np.int64))], axis=1)
    else:
        mask = g.op("Unsqueeze", [g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT), g.const("axis_2", np.array([2], np.int64))])
        total = g.op("ReduceSum", [g.op("Mul", [x, mask]), g.axis1], keepdims=0)
        count = g.op("Max", [g.op("ReduceSum", [mask, g.axis1], keepdims=0), g.const("min_count", np.array(1e-9, np.float32))])
        pooled = g.op("Div", [total, count])
    if not shape.normalize:
        return pooled
    # torch.nn.functional.normalize: v / max(||v||, 1e-12).
    length = g.op("ReduceL2", [pooled, g.const("last_axis", np.array([-1], np.int64))], keepdims=1)
    return g.op("Div", [pooled, g.op("Max", [length, g.const("min_length", np.array(1e-12, np.float32))])])


def tiny_bert_weights(shape: BertShape, seed: int = 0) -> dict[str, npt.NDArray[np.float32]]:
    """Random weights of the right names and shapes (for tests of the builder, never for embedding).

    Example:
        >>> len(tiny_bert_weights(BertShape(hidden=8, heads=2, layers=2, intermediate=16, vocab=20, positions=16)))
        37

    """
    rng = np.random.default_rng(seed)
    h, n = shape.hidden, shape.intermediate

    def r(*dims: int) -> npt.NDArray[np.float32]:
        return (rng.standard_normal(dims) * 0.1).astype(np.float32)

    weights = {
        "embeddings.word_embeddings.weight": r(shape.vocab, h),
        "embeddings.position_embeddings.weight": r(shape.positions, h),
        "embeddings.token_type_embeddings.weight": r(2, h),
        "embeddings.LayerNorm.weight": 1 + r(h),
        "embeddings.LayerNorm.bias": r(h),
    }
    for i in range(shape.layers):
        p = f"encoder.layer.{i}."
        for name, dims in (
            ("attention.self.query", (h, h)),
            ("attention.self.key", (h, h)),
            ("attention.self.value", (h, h)),
            ("attention.output.dense", (h, h)),
            ("intermediate.dense", (n, h)),
            ("output.dense", (h, n)),
        ):
            weights[p + name + ".weight"] = r(*dims)
            weights[p + name + ".bias"] = r(dims[0])
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            weights[p + name + ".weight"] = 1 + r(h)
            weights[p + name + ".bias"] = r(h)
    return weights
