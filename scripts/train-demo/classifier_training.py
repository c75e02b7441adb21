"""Training and top-1 accuracy for the zero-shot CNN, shared by train_demo.py (synthetic chest images) and
scripts/real-data/fashion_mnist_pair.py (Fashion-MNIST), so both pairs are trained by the same recipe.

Both callers pass their own `to_pixels` (the bundle's preprocessing contract, applied per batch so that only one
batch of model inputs is held at a time) and their own image source per epoch: the synthetic images are drawn once,
the real ones are rendered afresh every epoch.
"""
import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F


def train_classifier(model: nn.Module, labels: torch.Tensor, images_of_epoch: Callable[[int], torch.Tensor],
                     to_pixels: Callable[[torch.Tensor], torch.Tensor], epochs: int, lr: float, seed: int, batch: int,
                     weight_decay: float = 0.0) -> nn.Module:
    """Adam with a cosine schedule over all steps; a seeded permutation per epoch. images_of_epoch(epoch) gives the
    images of that epoch, aligned with `labels`. Returns the model in eval mode."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(len(labels) / batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    model.train()
    for epoch in range(epochs):
        # The images first, then the permutation: each uses its own generator, so the order does not change a draw.
        images = images_of_epoch(epoch)
        order = torch.randperm(len(labels), generator=g)
        total, seen = 0.0, 0
        for start in range(0, len(labels), batch):
            idx = order[start:start + batch]
            loss = F.cross_entropy(model(to_pixels(images[idx])), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
            seen += len(idx)
        print(f"  epoch {epoch + 1}/{epochs} loss {total / seen:.4f}", flush=True)
    return model.eval()


@torch.no_grad()
def top1_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  to_pixels: Callable[[torch.Tensor], torch.Tensor], chunk: int) -> float:
    """Fraction of images whose highest logit is their label, evaluated `chunk` images at a time (the callers keep
    the chunk sizes they were first run with: a different batch shape may change the last bits of a logit)."""
    correct = 0
    for start in range(0, len(images), chunk):
        logits = model(to_pixels(images[start:start + chunk]))
        correct += int((logits.argmax(1) == labels[start:start + chunk]).sum())
    return correct / len(images)
