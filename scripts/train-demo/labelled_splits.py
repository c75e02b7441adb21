#!/usr/bin/python3
"""Labelled image splits drawn from the synthetic chest generator: one seed and one style family per split.

train_demo.py writes its evaluation, calibration and validation splits with these functions; run as a script, this
draws fresh splits with any seeds without training anything (the CI's fresh-draw check of the shipped bundle, or
more data for `orthanc-t3 fit` and `orthanc-t3 eval`):

  /usr/bin/python3 scripts/train-demo/labelled_splits.py --out DIR --split NAME:STYLE:SEED:COUNT [--split ...]

STYLE is one of broad, in-domain, shifted. Each split becomes DIR/NAME/ with 8-bit grey PNGs and labels.csv
("file,label,code"), exactly what `orthanc-t3 eval`, `calibrate` and `fit` read. A seed fixes every pixel.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from split_files import write_labelled_split  # noqa: E402
from synthetic_chest import CLASSES, STYLES, generate  # noqa: E402

# Images per call of the generator: draws are made in chunks of this size, so a split depends on (seed, count).
CHUNK = 512


def make_set(seed: int, count: int, style: str):
    """(images [count,64,64] in [0,1], labels [count]) drawn with a generator seeded with `seed`."""
    g = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        im, lab = generate(g, n, style)
        images.append(im)
        labels.append(lab)
    return torch.cat(images), torch.cat(labels)


def chest_label_and_code(index: int):
    """labels.csv's label and code of a class: its name and its SNOMED CT code."""
    label, _, code, _ = CLASSES[index]
    return label, code


def write_split(folder: str, images: torch.Tensor, labels: torch.Tensor) -> None:
    """8-bit grey PNGs img0000.png, ... and labels.csv with the class label and its SNOMED CT code."""
    write_labelled_split(folder, images, labels, chest_label_and_code)


def parse_split(text: str):
    parts = text.split(":")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"--split {text!r}: expected NAME:STYLE:SEED:COUNT")
    name, style, seed, count = parts
    if not name or "/" in name or name.startswith("."):
        raise argparse.ArgumentTypeError(f"--split {text!r}: NAME must be a plain folder name")
    if style not in STYLES:
        raise argparse.ArgumentTypeError(f"--split {text!r}: STYLE must be one of {', '.join(STYLES)}")
    try:
        seed_value, count_value = int(seed), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--split {text!r}: SEED and COUNT must be integers") from None
    if count_value < 1:
        raise argparse.ArgumentTypeError(f"--split {text!r}: COUNT must be at least 1")
    return name, style, seed_value, count_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder that receives one subfolder per split")
    parser.add_argument("--split", type=parse_split, action="append", required=True, metavar="NAME:STYLE:SEED:COUNT")
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.time()
    written = []
    for name, style, seed, count in args.split:
        images, labels = make_set(seed, count, style)
        write_split(os.path.join(args.out, name), images, labels)
        written.append({"name": name, "style": style, "seed": seed, "images": count})
    print(json.dumps({"out": args.out, "splits": written, "seconds": round(time.time() - started, 1)}), flush=True)


if __name__ == "__main__":
    main()
