#!/usr/bin/python3
"""Trains the demo generalist/expert pair on synthetic chest-like images and writes the bundle and evaluation sets.

1. Generalist: ChestCnn trained from a seeded initialisation on the "broad" style family (wide variation in
   geometry, contrast, noise, blur and scanner artefacts; synthetic_chest.py).
2. Expert: a copy of the generalist fine-tuned on the narrow "in-domain" style (one portable low-dose scanner),
   so it wins there and forgets part of the broad distribution.
3. Both are exported to ONNX (dynamic batch, no constant folding) into a model bundle with bundle.json.
4. Labelled splits (8-bit grey PNG + labels.csv), each drawn with its own seed, none shared with training:
   - OUT/eval/: in-domain and shifted (a style corner the expert never saw: base-to-novel), the test splits of
     `orthanc-t3 eval`, and calibration (broad), for `orthanc-t3 calibrate`;
   - OUT/validation/: in-domain and broad, for `orthanc-t3 fit` (the coefficient map). The evaluation never reads
     them, and they are not the calibration split.

Deterministic: every random draw comes from seeded generators; torch runs with deterministic algorithms and a fixed
thread count (2), so a rerun on the same torch build gives the same weights. Takes about 3-4 minutes on 2 CPU cores.

Run: /usr/bin/python3 scripts/train-demo/train_demo.py [--out bundles/demo-trained] [--data-out DIR] [--quick --out DIR]
     /usr/bin/python3 scripts/train-demo/train_demo.py --splits-only      # rewrite the splits, keep the models
"""
import argparse
import copy
import hashlib
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from classifier_training import top1_accuracy, train_classifier  # noqa: E402
from labelled_splits import make_set, write_split  # noqa: E402
from synthetic_chest import CLASSES, IMAGE_SIZE  # noqa: E402
from zero_shot_cnn import ChestCnn, export_onnx  # noqa: E402

SEED = 20261123
MEAN = [0.5, 0.5, 0.5]
STD = [0.25, 0.25, 0.25]
LOGIT_SCALE = 100.0
OPSET = 17


def to_pixels(grey: torch.Tensor) -> torch.Tensor:
    """[N,64,64] grey in [0,1] -> model input [N,3,64,64], exactly the bundle's preprocessing contract. The grey
    values are first quantised to 8 bits, as in the PNG files the evaluation reads."""
    grey = (grey * 255).round() / 255
    x = grey.unsqueeze(1).expand(-1, 3, -1, -1)
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def train(model, images, labels, epochs: int, lr: float, seed: int, batch: int = 64, weight_decay: float = 0.0):
    """Adam with a cosine schedule; a seeded permutation per epoch of the same images (drawn once)."""
    return train_classifier(model, labels, lambda _epoch: images, to_pixels, epochs, lr, seed, batch, weight_decay)


def accuracy(model, images, labels) -> float:
    return top1_accuracy(model, images, labels, to_pixels, chunk=256)


def merged(generalist, expert, lam: float):
    """θ(λ) = (1−λ)·θ_pt + λ·θ_ft over every floating tensor (a training-time sanity check of mergeability)."""
    m = copy.deepcopy(generalist)
    sd_pt, sd_ft = generalist.state_dict(), expert.state_dict()
    m.load_state_dict({k: (1 - lam) * sd_pt[k] + lam * sd_ft[k] for k in sd_pt})
    return m.eval()


def sha256_of(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main() -> None:
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="bundle folder (default bundles/demo-trained; required with --quick)")
    parser.add_argument("--data-out", default=None, help="evaluation sets folder (default: OUT/eval)")
    parser.add_argument("--train-size", type=int, default=16384)
    parser.add_argument("--expert-size", type=int, default=3072)
    parser.add_argument("--generalist-epochs", type=int, default=6)
    parser.add_argument("--expert-epochs", type=int, default=6)
    parser.add_argument("--expert-lr", type=float, default=1e-3)
    parser.add_argument("--eval-size", type=int, default=1024, help="images per evaluation split (in-domain, shifted)")
    parser.add_argument("--calibration-size", type=int, default=256, help="images of the calibration split")
    parser.add_argument("--validation-size", type=int, default=4096, help="images per validation split (for fit)")
    parser.add_argument("--validation-out", default=None, help="validation splits folder (default: OUT/validation)")
    parser.add_argument("--splits-only", action="store_true",
                        help="only (re)write the evaluation, calibration and validation splits; no training")
    parser.add_argument("--quick", action="store_true", help="tiny sizes to check the script runs (seconds)")
    args = parser.parse_args()
    if args.quick:
        if args.out is None:
            parser.error("--quick needs --out: it must not overwrite the committed bundle")
        args.train_size, args.expert_size, args.generalist_epochs, args.expert_epochs = 512, 256, 1, 1
        args.eval_size, args.calibration_size, args.validation_size = 64, 64, 64
    args.out = args.out or os.path.join(repo, "bundles", "demo-trained")
    data_out = args.data_out or os.path.join(args.out, "eval")
    validation_out = args.validation_out or os.path.join(args.out, "validation")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    started = time.time()

    # Seeds: training SEED+1..+4, evaluation SEED+10..+12, validation SEED+20..+21. The CI's fresh-draw check of
    # the shipped bundle (test/evaluation/fresh-draws.test.ts) uses seeds outside all of these.
    tests = {
        "in-domain": make_set(SEED + 10, args.eval_size, "in-domain"),
        "shifted": make_set(SEED + 11, args.eval_size, "shifted"),
        "calibration": make_set(SEED + 12, args.calibration_size, "broad"),
    }
    validation = {
        "in-domain": make_set(SEED + 20, args.validation_size, "in-domain"),
        "broad": make_set(SEED + 21, args.validation_size, "broad"),
    }
    if args.splits_only:
        for split, (x, y) in tests.items():
            write_split(os.path.join(data_out, split), x, y)
        for split, (x, y) in validation.items():
            write_split(os.path.join(validation_out, split), x, y)
        print(f"wrote {data_out} and {validation_out} in {time.time() - started:.0f} s", flush=True)
        return

    print("generating training data", flush=True)
    broad_x, broad_y = make_set(SEED + 1, args.train_size, "broad")
    dom_x, dom_y = make_set(SEED + 2, args.expert_size, "in-domain")
    print(f"  {time.time() - started:.0f} s", flush=True)

    print("training the generalist (broad)", flush=True)
    generalist = train(ChestCnn(len(CLASSES), logit_scale=LOGIT_SCALE), broad_x, broad_y,
                       args.generalist_epochs, 2e-3, SEED + 3)
    print("fine-tuning the expert (in-domain)", flush=True)
    expert = train(copy.deepcopy(generalist), dom_x, dom_y, args.expert_epochs, args.expert_lr, SEED + 4)
    print(f"  {time.time() - started:.0f} s", flush=True)

    summary = {}
    for split, (x, y) in tests.items():
        summary[split] = {name: round(accuracy(m, x, y), 4) for name, m in
                          (("generalist", generalist), ("expert", expert), ("wise0.5", merged(generalist, expert, 0.5)))}
    print("top-1 (torch):", json.dumps(summary), flush=True)

    os.makedirs(args.out, exist_ok=True)
    models = {}
    for role, model in (("generalist", generalist), ("expert", expert)):
        file = f"{role}.onnx"
        path = os.path.join(args.out, file)
        export_onnx(model, path, IMAGE_SIZE, OPSET)
        models[role] = {"file": file, "name": f"t3-demo-chest-trained-{role}", "version": "1.0.0",
                        "sha256": sha256_of(path)}
    manifest = {
        "formatVersion": 1,
        "name": "t3-demo-chest-trained",
        "version": "1.0.0",
        "description": "Demo bundle trained on synthetic chest-like images (scripts/train-demo): a small CNN zero-shot "
                       "classifier trained broadly (generalist) and fine-tuned on one scanner style (expert). "
                       "Not trained on real images: for demonstration, evaluation and tests only.",
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
    for split, (x, y) in tests.items():
        write_split(os.path.join(data_out, split), x, y)
    for split, (x, y) in validation.items():
        write_split(os.path.join(validation_out, split), x, y)
    print(f"wrote {args.out}, {data_out} and {validation_out} in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
