"""The demo's image encoder with a CLIP-style zero-shot head, and its linear-merge-safe ONNX export.

logits = logit_scale * normalize(encoder(x)) . normalize(class_embeddings)^T, where the class embeddings stand in for
the text tower's prompt embeddings and are a parameter, so they are fine-tuned and interpolated with the encoder
(docs/T3.md, merged set). No batch normalisation: folding it into the convolutions is not linear in the weights.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ZeroShotHead(nn.Module):
    def __init__(self, embed_dim: int, num_classes: int, logit_scale: float):
        super().__init__()
        self.class_embeddings = nn.Parameter(torch.randn(num_classes, embed_dim))
        # A buffer: like CLIP's after pretraining, the scale is fixed and equal in both models.
        self.register_buffer("logit_scale", torch.tensor(float(logit_scale)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.logit_scale * F.normalize(features, dim=-1) @ F.normalize(self.class_embeddings, dim=-1).t()


class ChestCnn(nn.Module):
    """Stride-2 convolutions with residual 3x3 blocks at 16x16 and 8x8, global average pooling, projection."""

    def __init__(self, num_classes: int, embed_dim: int = 64, logit_scale: float = 100.0):
        super().__init__()
        self.stem = nn.Conv2d(3, 24, 3, stride=2, padding=1)        # 64 -> 32
        self.down1 = nn.Conv2d(24, 32, 3, stride=2, padding=1)      # 32 -> 16
        self.block1 = nn.Conv2d(32, 32, 3, padding=1)
        self.down2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)      # 16 -> 8
        self.block2 = nn.Conv2d(64, 64, 3, padding=1)
        self.down3 = nn.Conv2d(64, 128, 3, stride=2, padding=1)     # 8 -> 4
        self.proj = nn.Linear(128, embed_dim)
        self.head = ZeroShotHead(embed_dim, num_classes, logit_scale)

    def embed(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem(pixel_values))
        x = F.relu(self.down1(x))
        x = x + F.relu(self.block1(x))
        x = F.relu(self.down2(x))
        x = x + F.relu(self.block2(x))
        x = F.relu(self.down3(x))
        return self.proj(x.mean(dim=(2, 3)))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(pixel_values))


def export_onnx(model: nn.Module, path: str, image_size: int, opset: int = 17) -> None:
    """Dynamic batch axis; constant folding off so every weight stays a plain initializer that enters the graph
    linearly, identically in both exports (folded products of weights would not interpolate linearly)."""
    model.eval()
    dummy = torch.zeros(1, 3, image_size, image_size)
    torch.onnx.export(
        model, dummy, path,
        input_names=["pixel_values"], output_names=["logits"],
        dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=opset, do_constant_folding=False,
    )
