#!/usr/bin/python3
"""Builds the second-architecture pair for the merged-graph tests (test/fixtures/onnx/): a tiny ViT exported at
opset 14, where LayerNorm is decomposed into primitive ops with Constant nodes, unlike the demo CNN at opset 17.
The expert is the generalist after a few deterministic SGD steps. Both files together stay well under 1 MB.

Run: /usr/bin/python3 scripts/demo-bundle/make_fixture_pair.py [--out test/fixtures/onnx]
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zero_shot_models import SmallVit, export_onnx  # noqa: E402

IMAGE_SIZE = 32
SEED = 424242


def main() -> None:
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(repo, "test", "fixtures", "onnx"))
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    torch.manual_seed(SEED)
    config = dict(num_classes=4, image_size=IMAGE_SIZE, patch=8, dim=32, depth=2, heads=2, embed_dim=16)
    generalist = SmallVit(**config)
    expert = SmallVit(**config)
    expert.load_state_dict(generalist.state_dict())
    optimizer = torch.optim.SGD(expert.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(SEED + 1)
    for _ in range(10):
        pixels = torch.randn(8, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator)
        labels = torch.randint(0, 4, (8,), generator=generator)
        loss = F.cross_entropy(expert(pixels), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for role, model in (("generalist", generalist), ("expert", expert)):
        export_onnx(model, os.path.join(args.out, f"tiny-vit-{role}.onnx"), IMAGE_SIZE, opset=14)


if __name__ == "__main__":
    main()
