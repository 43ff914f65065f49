"""The network as an ONNX graph, and ONNX Runtime calls of it: a deploy-realistic CPU backend.

The graph is the deployment copy's raw forward (class features fixed, Conv+BN fused): one input
`images` (1 x 3 x S x S, normalised), the head's outputs flattened level by level (class scores,
box distributions, ...). Box decoding and NMS stay outside, as in the PyTorch timing.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

INPUT_NAME = "images"


def flat_outputs(outputs: object) -> tuple[torch.Tensor, ...]:
    """A detector's nested head outputs (tuples of per-level lists) as one flat tuple."""
    if isinstance(outputs, torch.Tensor):
        return (outputs,)
    return tuple(tensor for item in outputs for tensor in flat_outputs(item))


class NetworkOnly(nn.Module):
    """The detector's raw forward (no decoding, no NMS) as a one-input module, for tracing."""

    def __init__(self, detector: nn.Module, data_samples: list) -> None:
        super().__init__()
        self.detector, self.data_samples = detector, data_samples

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return flat_outputs(self.detector._forward(inputs, self.data_samples))


def export_onnx(deployed: nn.Module, inputs: torch.Tensor, data_samples: list, path: str | Path) -> Path:
    """Write the deployment copy's network (fp32, on the CPU) to `path` at the inputs' shape."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    network = NetworkOnly(deployed, data_samples).float().cpu().eval()
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer notes
        warnings.simplefilter("ignore")
        torch.onnx.export(network, (inputs.float().cpu(),), str(path), dynamo=False, opset_version=17,
                          input_names=[INPUT_NAME])
    return path


def onnxruntime_call(path: str | Path, inputs: torch.Tensor, threads: int) -> Callable[[], object]:
    """One inference of the graph at `path` on `inputs` by ONNX Runtime's CPU provider."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {INPUT_NAME: inputs.float().cpu().numpy()}
    return lambda: session.run(None, feed)
