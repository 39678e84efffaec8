"""engine.model.onnx_shapes: the declared input and output shapes of an ONNX graph read from its bytes
(fixed, symbolic and unknown dimensions; weights skipped), and a clear error for bytes that are not one."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.model.onnx_shapes import GraphFormatError, graph_shapes


def _model(weights: np.ndarray) -> bytes:
    """probs = x @ wt: x (batch, 3), a 3 x 1000 weight initializer, an unused mask input; the first dimension
    of the mask and of the output is unknown."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    mask = helper.make_tensor_value_info("mask", TensorProto.BOOL, [None, 7, 7])
    y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, [None, 1000])
    nodes = [helper.make_node("MatMul", ["x", "wt"], ["xw"]), helper.make_node("Identity", ["xw"], ["probs"])]
    graph = helper.make_graph(nodes, "tiny", [x, mask], [y],
                              initializer=[numpy_helper.from_array(weights.T.copy(), "wt")])
    return helper.make_model(graph).SerializeToString()


def test_fixed_symbolic_and_unknown_dimensions_are_read_and_the_weights_skipped():
    weights = np.random.default_rng(0).standard_normal((1000, 3)).astype(np.float32)
    data = _model(weights)
    assert weights.tobytes() in data or weights.T.tobytes() in data  # the weights sit inside the bytes
    shapes = graph_shapes(data)
    assert shapes.inputs == {"x": ["batch", 3], "mask": [None, 7, 7]}
    assert shapes.outputs == {"probs": [None, 1000]}
    assert list(shapes.inputs) == ["x", "mask"]  # in the graph's order


@pytest.mark.parametrize("data, message", [
    (b"", "no graph in the model"),
    (b"\x08\x07", "no graph in the model"),  # ir_version only
    (b"\x3a\xff", "truncated or malformed varint"),  # graph field whose length never ends
    (b"\x3a\x05\x5a\x09abc", "runs past the end"),  # an input longer than its graph
    (b"\x3b\x00", "unsupported wire type 3"),
], ids=["empty", "no-graph", "bad-varint", "overrun", "group"])
def test_bytes_that_are_not_an_onnx_model_are_refused(data, message):
    with pytest.raises(GraphFormatError, match=message):
        graph_shapes(data)
    assert issubclass(GraphFormatError, ValueError)
