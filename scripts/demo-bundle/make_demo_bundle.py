#!/usr/bin/python3
"""Builds the demo model bundle (bundles/demo): a small CNN zero-shot classifier for 7 chest findings.

The generalist is a seeded initialisation; the expert is derived from it the way a fine-tune would be: the same
weights, then deterministic SGD steps on a narrow synthetic task, so most tensors differ while the architecture
and the shared buffers stay identical. The weights are not trained on real images: the bundle exists so that the
whole pipeline runs end to end without downloads. A later issue swaps `build_models` for a trained pair; everything
else (export, hashing, bundle.json) stays.

Run: /usr/bin/python3 scripts/demo-bundle/make_demo_bundle.py [--out bundles/demo]
"""
import argparse
import hashlib
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zero_shot_models import SmallCnn, export_onnx  # noqa: E402

IMAGE_SIZE = 64
OPSET = 17
SEED = 20260101
MEAN = [0.5, 0.5, 0.5]
STD = [0.25, 0.25, 0.25]
LOGIT_SCALE = 100.0

CLASSES = [
    ("Normal", "a normal chest radiograph", "17621005", "Normal"),
    ("Pneumothorax", "a chest radiograph showing pneumothorax", "36118008", "Pneumothorax"),
    ("Pleural effusion", "a chest radiograph showing pleural effusion", "60046008", "Pleural effusion"),
    ("Cardiomegaly", "a chest radiograph showing cardiomegaly", "287272002", "Cardiomegaly"),
    ("Nodule", "a chest radiograph showing a lung nodule", "27925004", "Nodule"),
    ("Mass", "a chest radiograph showing a lung mass", "4147007", "Mass"),
    ("Pulmonary edema", "a chest radiograph showing pulmonary edema", "19242006", "Pulmonary edema"),
]


def synthetic_batch(generator: torch.Generator, count: int):
    """Grey images in [0,1] where class k is a bright disc in the k-th of 7 positions on a noisy background;
    normalised exactly as the bundle's preprocessing contract says."""
    labels = torch.randint(0, len(CLASSES), (count,), generator=generator)
    ys, xs = torch.meshgrid(torch.arange(IMAGE_SIZE), torch.arange(IMAGE_SIZE), indexing="ij")
    images = 0.3 + 0.1 * torch.rand(count, 1, IMAGE_SIZE, IMAGE_SIZE, generator=generator)
    for i in range(count):
        k = int(labels[i])
        cy = 16 + 32 * (k % 2)
        cx = 8 + 8 * k
        disc = ((ys - cy) ** 2 + (xs - cx) ** 2) < 36
        images[i, 0][disc] += 0.5
    images = images.clamp(0, 1).expand(-1, 3, -1, -1)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (images - mean) / std, labels


def build_models():
    """Returns (generalist, expert) in eval mode. Swap this function for a trained pair."""
    torch.manual_seed(SEED)
    generalist = SmallCnn(num_classes=len(CLASSES), logit_scale=LOGIT_SCALE)
    expert = SmallCnn(num_classes=len(CLASSES), logit_scale=LOGIT_SCALE)
    expert.load_state_dict(generalist.state_dict())
    optimizer = torch.optim.SGD(expert.parameters(), lr=0.002, momentum=0.9)
    generator = torch.Generator().manual_seed(SEED + 1)
    expert.train()
    for _ in range(30):
        pixels, labels = synthetic_batch(generator, 16)
        loss = F.cross_entropy(expert(pixels), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return generalist.eval(), expert.eval()


def sha256_of(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main() -> None:
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(repo, "bundles", "demo"))
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    generalist, expert = build_models()
    changed = sum(
        1 for (name, a), (_, b) in zip(generalist.state_dict().items(), expert.state_dict().items())
        if not torch.equal(a, b))
    total = len(generalist.state_dict())
    print(f"expert differs from generalist in {changed} of {total} tensors")

    models = {}
    for role, model in (("generalist", generalist), ("expert", expert)):
        file = f"{role}.onnx"
        path = os.path.join(args.out, file)
        export_onnx(model, path, IMAGE_SIZE, OPSET)
        models[role] = {"file": file, "name": f"t3-demo-chest-cnn-{role}", "version": "1.0.0",
                        "sha256": sha256_of(path)}

    manifest = {
        "formatVersion": 1,
        "name": "t3-demo-chest",
        "version": "1.0.0",
        "description": "Demo bundle: a small CNN zero-shot chest classifier with an expert derived by synthetic "
                       "fine-tuning. Not trained on real images; for demonstration and tests only.",
        # Declares the pair a demonstration model: serve logs it, SRs and the worklist say so, production refuses it.
        "demonstration": True,
        "modalities": ["CR", "DX", "CT", "MR", "US", "XA", "OT"],
        "input": {"name": "pixel_values", "width": IMAGE_SIZE, "height": IMAGE_SIZE, "channels": 3,
                  "mean": MEAN, "std": STD, "resize": "bilinear"},
        "output": {"name": "logits"},
        "classes": [{"label": label, "prompt": prompt, "code": {"value": code, "scheme": "SCT", "meaning": meaning}}
                    for label, prompt, code, meaning in CLASSES],
        "logitScale": LOGIT_SCALE,
        "temperatures": {"generalist": 1.0, "expert": 1.0},
        "t3": {"tPt": 1, "tFt": 1, "lambdaMin": 1, "lambdaMax": 0, "gamma": 0.5, "jsThreshold": 0, "logBase": None,
               "eps": 0, "extTau": 0.1, "extDelta": 0, "guardTemperature": None, "batchAggregation": "mean-lambda"},
        "models": models,
    }
    with open(os.path.join(args.out, "bundle.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(json.dumps({role: m["sha256"] for role, m in models.items()}))


if __name__ == "__main__":
    main()
