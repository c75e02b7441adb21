#!/usr/bin/python3
"""Writes a ViT-B/16-sized zero-shot pair for the engine benchmark: random weights (seeded) for the generalist,
and an expert that shares that initialisation with every float weight perturbed by 2 % of its spread, as a
fine-tune would move it. 224x224 input, ~86 M parameters, ~345 MB per file. Generated at bench time, never
committed.

Run: /usr/bin/python3 bench/make_vitb_pair.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "demo-bundle"))
from zero_shot_models import SmallVit, export_onnx  # noqa: E402


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1234)
    model = SmallVit(num_classes=7, image_size=224, patch=16, dim=768, depth=12, heads=12, embed_dim=512)
    params = sum(p.numel() for p in model.parameters())
    generalist_path = os.path.join(out, "generalist.onnx")
    export_onnx(model, generalist_path, 224, opset=17)

    expert = onnx.load(generalist_path)
    rng = np.random.default_rng(5678)
    for tensor in expert.graph.initializer:
        if tensor.data_type != onnx.TensorProto.FLOAT:
            continue
        weights = numpy_helper.to_array(tensor)
        if weights.size <= 1:
            continue
        spread = float(weights.std()) or 1.0
        moved = (weights + rng.standard_normal(weights.shape).astype(np.float32) * np.float32(0.02 * spread)).astype(np.float32)
        tensor.CopyFrom(numpy_helper.from_array(moved, tensor.name))
    onnx.save(expert, os.path.join(out, "expert.onnx"))
    print(params)


if __name__ == "__main__":
    main()
