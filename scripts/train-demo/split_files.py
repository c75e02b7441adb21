"""Writes one labelled split in the layout that `orthanc-t3 eval`, `calibrate` and `fit` read: 8-bit grey PNGs
img0000.png, img0001.png, ... and labels.csv ("file,label,code"). Shared by labelled_splits.py (synthetic chest
classes, SNOMED CT codes) and scripts/real-data/fashion_mnist_pair.py (Fashion-MNIST classes, a local code scheme),
which differ only in how a class index becomes a label and a code."""
import csv
import os
from typing import Callable, Tuple

import torch

from png_writer import write_grey_png


def write_labelled_split(folder: str, images: torch.Tensor, labels: torch.Tensor,
                         label_and_code: Callable[[int], Tuple[str, str]]) -> None:
    """images [N,H,W] in [0,1] (rounded to 8 bits), labels [N] class indices; label_and_code(index) gives the
    labels.csv columns "label" and "code" of a class."""
    os.makedirs(folder, exist_ok=True)
    rows = []
    for i in range(len(images)):
        name = f"img{i:04d}.png"
        write_grey_png(os.path.join(folder, name), (images[i] * 255).round().to(torch.uint8).tolist())
        rows.append((name, *label_and_code(int(labels[i]))))
    with open(os.path.join(folder, "labels.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "label", "code"])
        w.writerows(rows)
