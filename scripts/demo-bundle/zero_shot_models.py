"""Small zero-shot image classifiers with a CLIP-style head, shared by the demo-bundle generator, the test-fixture
generator and the engine benchmark.

Every model maps pixel_values [B,3,H,W] to logits [B,K] = logit_scale * normalize(encoder(x)) . normalize(T)^T,
where T (class_embeddings) stands in for the text tower's precomputed prompt embeddings. The class embeddings are a
parameter so that they are interpolated with the image encoder (docs/T3.md, merged set). No batch normalisation:
its eval-mode folding into convolutions is not linear in the weights, and the merge must stay linear.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ZeroShotHead(nn.Module):
    def __init__(self, embed_dim: int, num_classes: int, logit_scale: float):
        super().__init__()
        self.class_embeddings = nn.Parameter(torch.randn(num_classes, embed_dim) * 0.5)
        # A buffer, not a parameter: CLIP's logit scale is fixed after pretraining and equal in both models.
        self.register_buffer("logit_scale", torch.tensor(float(logit_scale)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        image = F.normalize(features, dim=-1)
        text = F.normalize(self.class_embeddings, dim=-1)
        return self.logit_scale * image @ text.t()


class SmallCnn(nn.Module):
    """Four stride-2 convolution stages with a residual 3x3 block each, global average pooling, projection."""

    def __init__(self, num_classes: int, widths=(16, 32, 64, 96), embed_dim: int = 64, logit_scale: float = 100.0):
        super().__init__()
        stages = []
        in_ch = 3
        for w in widths:
            stages.append(nn.ModuleDict({
                "down": nn.Conv2d(in_ch, w, 3, stride=2, padding=1),
                "conv": nn.Conv2d(w, w, 3, padding=1),
            }))
            in_ch = w
        self.stages = nn.ModuleList(stages)
        self.proj = nn.Linear(in_ch, embed_dim)
        self.head = ZeroShotHead(embed_dim, num_classes, logit_scale)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = pixel_values
        for stage in self.stages:
            x = F.relu(stage["down"](x))
            x = x + F.relu(stage["conv"](x))
        x = x.mean(dim=(2, 3))
        return self.head(self.proj(x))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * mlp_ratio)
        self.fc2 = nn.Linear(dim * mlp_ratio, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * (d // h) ** -0.5
        attn = attn.softmax(dim=-1)
        y = (attn @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc1(self.norm2(x))))
        return x


class SmallVit(nn.Module):
    """ViT image tower (patch embedding, class token, pre-norm blocks); ViT-B/16 with dim 768, depth 12, heads 12."""

    def __init__(self, num_classes: int, image_size: int, patch: int, dim: int, depth: int, heads: int,
                 mlp_ratio: int = 4, embed_dim: int = 64, logit_scale: float = 100.0):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        tokens = (image_size // patch) ** 2 + 1
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, embed_dim, bias=False)
        self.head = ZeroShotHead(embed_dim, num_classes, logit_scale)
        # The exporter stores bit-identical parameters once and aliases them with Identity nodes; LayerNorms left at
        # their ones/zeros init would all alias, and a fine-tuned expert (whose norms differ) would then export a
        # different graph. Pretrained norms are never all equal, so start them slightly apart.
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.LayerNorm):
                    module.weight.add_(torch.randn_like(module.weight) * 0.02)
                    module.bias.add_(torch.randn_like(module.bias) * 0.02)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(pixel_values).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.proj(self.norm(x)[:, 0]))


def export_onnx(model: nn.Module, path: str, image_size: int, opset: int) -> None:
    """Exports with a dynamic batch axis. Constant folding is off so the graph keeps every weight as a plain
    initializer that enters the computation linearly (folded products of weights would not merge linearly)."""
    model.eval()
    dummy = torch.zeros(1, 3, image_size, image_size)
    torch.onnx.export(
        model, dummy, path,
        input_names=["pixel_values"], output_names=["logits"],
        dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=opset, do_constant_folding=False,
    )
