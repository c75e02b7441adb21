#!/usr/bin/python3
"""Exports a CLIP-family generalist and its fine-tuned expert, with class prompts, into an orthanc-t3 model bundle.

Each model becomes one ONNX graph: its image encoder followed by its zero-shot head,
    logits = logit_scale · normalize(image_encoder(pixel_values)) · normalize(T)ᵀ,
where T holds one text embedding per class, computed once here by that model's own text tower from the class prompts
(several prompts per class are averaged after normalisation, CLIP's prompt ensembling). The text tower is not
exported: at test time only the image encoder and the class embeddings are interpolated (docs/T3.md, merged set).

Linear-merge safety: the export keeps every weight as a plain initializer that enters the graph as it is stored
(constant folding off, dynamic batch axis), so (1−λ)·W_pt + λ·W_ft of the two files is the weights of the merged
model. The two graphs are then checked to be structurally identical (same nodes, same initializer names and
shapes): the expert must be fine-tuned from the generalist with the same architecture. Models with batch
normalisation must be in eval mode with statistics stored as initializers, never folded into the convolutions.

Sources (--format):
  open_clip  --model NAME --generalist FILE --expert FILE   open_clip checkpoints (needs the open_clip package)
  hf         --generalist DIR --expert DIR                  Hugging Face CLIPModel folders (needs transformers)
  tiny       (no checkpoints)                               a small CLIP-like model defined in this file, given a
             generalist and a fine-tuned expert by a few seeded training epochs on synthetic chest images from
             scripts/train-demo, saved as checkpoints and read back: the end-to-end self-test of this script.

Classes (--classes FILE, JSON): [{"label": "Pneumothorax", "prompt": "a chest x-ray showing pneumothorax" or a list
of prompts, "code": {"value": "36118008", "scheme": "SCT", "meaning": "Pneumothorax"}}, ...]; the tiny format uses
the demo's seven chest findings when --classes is not given.

The bundle's preprocessing fields come from the model: input size, the processor's mean and std. orthanc-t3 resizes
the whole image to that size (no centre crop).

Examples:
  /usr/bin/python3 scripts/export-clip/export_clip.py --format hf --generalist ./clip-pt --expert ./clip-ft \
      --classes classes.json --name my-chest-clip --out bundles/my-chest-clip
  /usr/bin/python3 scripts/export-clip/export_clip.py --format tiny --out /tmp/tiny-clip-bundle
"""
import argparse
import copy
import hashlib
import json
import math
import os
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

OPSET = 17
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------------------------------
# The exported module
# ---------------------------------------------------------------------------------------------------------------

class ZeroShotClassifier(nn.Module):
    """Image encoder + zero-shot head. Class embeddings are a parameter and the logit scale a buffer, so both are
    initializers of the ONNX graph and are interpolated with the encoder."""

    def __init__(self, image_encoder: nn.Module, class_embeddings: torch.Tensor, logit_scale: float):
        super().__init__()
        self.image_encoder = image_encoder
        self.class_embeddings = nn.Parameter(F.normalize(class_embeddings.detach().float(), dim=-1))
        self.register_buffer("logit_scale", torch.tensor(float(logit_scale)))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        features = F.normalize(self.image_encoder(pixel_values), dim=-1)
        return self.logit_scale * features @ F.normalize(self.class_embeddings, dim=-1).t()


class ClipParts:
    """What every source format provides: the image encoder, a text embedder and the preprocessing constants."""

    def __init__(self, image_encoder, embed_texts, logit_scale, image_size, mean, std, description):
        self.image_encoder = image_encoder
        self.embed_texts = embed_texts            # list[str] -> Tensor [n, d]
        self.logit_scale = float(logit_scale)
        self.image_size = int(image_size)
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]
        self.description = description


@torch.no_grad()
def class_embeddings(parts: ClipParts, classes) -> torch.Tensor:
    rows = []
    for c in classes:
        prompts = c["prompt"] if isinstance(c["prompt"], list) else [c["prompt"]]
        e = F.normalize(parts.embed_texts(prompts).float(), dim=-1).mean(dim=0)
        rows.append(F.normalize(e, dim=-1))
    return torch.stack(rows)


# ---------------------------------------------------------------------------------------------------------------
# Source formats
# ---------------------------------------------------------------------------------------------------------------

def load_open_clip(model_name: str, checkpoint: str) -> ClipParts:
    import open_clip  # noqa: import only when used: not installed on machines that export other formats
    model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=checkpoint)
    model.eval()
    tokenizer = open_clip.get_tokenizer(model_name)
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    mean = getattr(model.visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN
    std = getattr(model.visual, "image_std", None) or open_clip.OPENAI_DATASET_STD
    return ClipParts(model.visual, lambda prompts: model.encode_text(tokenizer(prompts)), model.logit_scale.exp().item(),
                     size, mean, std, f"open_clip {model_name} from {os.path.basename(checkpoint)}")


class _HfImageEncoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.vision_model = model.vision_model
        self.visual_projection = model.visual_projection

    def forward(self, pixel_values):
        pooled = self.vision_model(pixel_values=pixel_values).pooler_output
        return self.visual_projection(pooled)


def load_hf(folder: str) -> ClipParts:
    from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel  # noqa: only when used
    model = CLIPModel.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    processor = CLIPImageProcessor.from_pretrained(folder)

    def embed(prompts):
        tokens = tokenizer(prompts, padding=True, return_tensors="pt")
        return model.get_text_features(**tokens)

    return ClipParts(_HfImageEncoder(model), embed, model.logit_scale.exp().item(), model.config.vision_config.image_size,
                     processor.image_mean, processor.image_std, f"Hugging Face CLIPModel from {os.path.basename(os.path.abspath(folder))}")


# --- tiny: a small CLIP-like model defined here (the self-test) ------------------------------------------------

class _Block(nn.Module):
    """Pre-norm transformer block written out with plain ops (exports cleanly, no fused attention kernels)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)

    def forward(self, x, causal: bool = False):
        b, n, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * (d // h) ** -0.5
        if causal:
            attn = attn + torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
        y = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.out(y)
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class TinyVisionTower(nn.Module):
    def __init__(self, image_size=32, patch=8, width=64, layers=2, heads=4, embed_dim=32):
        super().__init__()
        self.image_size = image_size
        self.patch_embed = nn.Conv2d(3, width, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, (image_size // patch) ** 2 + 1, width) * 0.02)
        self.blocks = nn.ModuleList([_Block(width, heads) for _ in range(layers)])
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, embed_dim, bias=False)

    def forward(self, pixel_values):
        x = self.patch_embed(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.proj(self.norm(x[:, 0]))


class TinyTextTower(nn.Module):
    VOCAB, CONTEXT = 128, 48

    def __init__(self, width=64, layers=2, heads=4, embed_dim=32):
        super().__init__()
        self.token_embed = nn.Embedding(self.VOCAB, width)
        self.pos_embed = nn.Parameter(torch.randn(1, self.CONTEXT, width) * 0.02)
        self.blocks = nn.ModuleList([_Block(width, heads) for _ in range(layers)])
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, embed_dim, bias=False)

    @classmethod
    def tokenize(cls, prompts):
        """Bytes as tokens (ASCII fits the vocabulary), end-of-text token VOCAB−1, zero padding."""
        out = torch.zeros(len(prompts), cls.CONTEXT, dtype=torch.long)
        ends = []
        for i, p in enumerate(prompts):
            ids = [b % (cls.VOCAB - 1) for b in p.lower().encode("utf-8")][: cls.CONTEXT - 1] + [cls.VOCAB - 1]
            out[i, : len(ids)] = torch.tensor(ids)
            ends.append(len(ids) - 1)
        return out, torch.tensor(ends)

    def forward(self, prompts):
        tokens, ends = self.tokenize(prompts)
        x = self.token_embed(tokens) + self.pos_embed
        for block in self.blocks:
            x = block(x, causal=True)
        return self.proj(self.norm(x[torch.arange(len(prompts)), ends]))


class TinyClip(nn.Module):
    def __init__(self):
        super().__init__()
        self.visual = TinyVisionTower()
        self.text = TinyTextTower()
        self.logit_scale = nn.Parameter(torch.tensor(math.log(100.0)))   # stored as log, like CLIP


TINY_MEAN = [0.5, 0.5, 0.5]
TINY_STD = [0.25, 0.25, 0.25]


def load_tiny(checkpoint: str) -> ClipParts:
    model = TinyClip()
    model.load_state_dict(torch.load(checkpoint))
    model.eval()
    return ClipParts(model.visual, model.text, model.logit_scale.exp().item(), model.visual.image_size, TINY_MEAN, TINY_STD,
                     f"tiny CLIP-like self-test model from {os.path.basename(checkpoint)}")


def make_tiny_checkpoints(folder: str, classes, seed: int = 7) -> tuple:
    """Seeded generalist and an expert fine-tuned from it, both trained CLIP-style (image features against the
    class prompts' text features) for a few epochs over a small pool of synthetic chest images: broad style for
    the generalist, the in-domain style for the expert. Returns the two checkpoint paths."""
    sys.path.insert(0, os.path.join(HERE, "..", "train-demo"))
    from synthetic_chest import generate  # noqa: E402

    torch.manual_seed(seed)
    prompts = [c["prompt"] if isinstance(c["prompt"], str) else c["prompt"][0] for c in classes]
    size = TinyVisionTower().image_size

    def pool(style, count, g):
        grey, labels = generate(g, count, style)
        x = F.interpolate(grey.unsqueeze(1), size=(size, size), mode="area").expand(-1, 3, -1, -1)
        return (x - 0.5) / 0.25, labels % len(classes)

    def fit(model, data, epochs, lr, g):
        x_all, y_all = data
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(y_all), generator=g)
            for start in range(0, len(order), 32):
                idx = order[start:start + 32]
                image = F.normalize(model.visual(x_all[idx]), dim=-1)
                text = F.normalize(model.text(prompts), dim=-1)
                loss = F.cross_entropy(model.logit_scale.exp() * image @ text.t(), y_all[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return model.eval()

    g = torch.Generator().manual_seed(seed)
    generalist = fit(TinyClip(), pool("broad", 192, g), 3, 1e-3, g)
    expert = fit(copy.deepcopy(generalist), pool("in-domain", 96, g), 3, 1e-3, g)
    paths = (os.path.join(folder, "tiny-generalist.pt"), os.path.join(folder, "tiny-expert.pt"))
    torch.save(generalist.state_dict(), paths[0])
    torch.save(expert.state_dict(), paths[1])
    return paths


# ---------------------------------------------------------------------------------------------------------------
# Export and checks
# ---------------------------------------------------------------------------------------------------------------

def export_onnx(model: nn.Module, path: str, image_size: int) -> None:
    model.eval()
    dummy = torch.zeros(2, 3, image_size, image_size)
    with torch.no_grad():
        torch.onnx.export(model, dummy, path, input_names=["pixel_values"], output_names=["logits"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=OPSET, do_constant_folding=False)


def check_mergeable(path_pt: str, path_ft: str) -> dict:
    """The two graphs must have the same nodes and the same initializer names, types and shapes; returns counts."""
    import onnx
    a, b = onnx.load(path_pt), onnx.load(path_ft)
    nodes_a = [(n.op_type, list(n.input), list(n.output), [x.SerializeToString() for x in n.attribute]) for n in a.graph.node]
    nodes_b = [(n.op_type, list(n.input), list(n.output), [x.SerializeToString() for x in n.attribute]) for n in b.graph.node]
    for i, (x, y) in enumerate(zip(nodes_a, nodes_b)):
        if x != y:
            raise SystemExit(f"the exported graphs differ at node {i}: {x[0]} {x[1]} vs {y[0]} {y[1]}; the expert must be "
                             "fine-tuned from the generalist with the same architecture")
    if len(nodes_a) != len(nodes_b):
        raise SystemExit(f"the exported graphs have {len(nodes_a)} and {len(nodes_b)} nodes")
    init_a = {t.name: (t.data_type, tuple(t.dims), t.raw_data or None) for t in a.graph.initializer}
    init_b = {t.name: (t.data_type, tuple(t.dims), t.raw_data or None) for t in b.graph.initializer}
    if init_a.keys() != init_b.keys():
        raise SystemExit(f"initializer names differ: {sorted(set(init_a) ^ set(init_b))[:5]}")
    differing = 0
    for name, (dt, dims, raw) in init_a.items():
        if (dt, dims) != init_b[name][:2]:
            raise SystemExit(f"initializer {name} has type/shape {dt}{list(dims)} vs {init_b[name][0]}{list(init_b[name][1])}")
        if raw != init_b[name][2]:
            differing += 1
    onnx.checker.check_model(a)
    return {"nodes": len(nodes_a), "initializers": len(init_a), "differing_initializers": differing}


def sha256_of(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def bundle_class(c) -> dict:
    """bundle.json holds one prompt string per class; an ensemble of prompts is kept alongside as "prompts"."""
    out = {"label": c["label"], "prompt": c["prompt"] if isinstance(c["prompt"], str) else c["prompt"][0], "code": c["code"]}
    if isinstance(c["prompt"], list) and len(c["prompt"]) > 1:
        out["prompts"] = c["prompt"]
    return out


def default_classes():
    sys.path.insert(0, os.path.join(HERE, "..", "train-demo"))
    from synthetic_chest import CLASSES  # noqa: E402
    return [{"label": label, "prompt": prompt, "code": {"value": code, "scheme": "SCT", "meaning": meaning}}
            for label, prompt, code, meaning in CLASSES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 1)[1])
    parser.add_argument("--format", choices=["open_clip", "hf", "tiny"], required=True)
    parser.add_argument("--model", help="open_clip architecture name, e.g. ViT-B-16")
    parser.add_argument("--generalist", help="generalist checkpoint (file for open_clip, folder for hf)")
    parser.add_argument("--expert", help="expert checkpoint, fine-tuned from the generalist")
    parser.add_argument("--classes", help="classes JSON file (label, prompt(s), code)")
    parser.add_argument("--out", required=True, help="bundle folder to write")
    parser.add_argument("--name", default=None, help="bundle name (default: the out folder's name)")
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--modalities", default="CR,DX,CT,MR,US,XA,OT")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)

    if args.classes:
        with open(args.classes) as f:
            classes = json.load(f)
    elif args.format == "tiny":
        classes = default_classes()
    else:
        parser.error("--classes is required for open_clip and hf checkpoints")
    for i, c in enumerate(classes):
        for key in ("label", "prompt", "code"):
            if key not in c:
                parser.error(f"classes[{i}] has no {key!r}")

    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        if args.format == "tiny":
            pt_path, ft_path = make_tiny_checkpoints(scratch, classes)
            loader = load_tiny
        else:
            if not args.generalist or not args.expert:
                parser.error("--generalist and --expert are required")
            pt_path, ft_path = args.generalist, args.expert
            if args.format == "open_clip":
                if not args.model:
                    parser.error("--model is required for open_clip")
                loader = lambda ckpt: load_open_clip(args.model, ckpt)  # noqa: E731
            else:
                loader = load_hf
        parts = {"generalist": loader(pt_path), "expert": loader(ft_path)}

    if parts["generalist"].image_size != parts["expert"].image_size:
        raise SystemExit("the generalist and the expert take different image sizes")
    size = parts["generalist"].image_size
    models = {}
    for role in ("generalist", "expert"):
        p = parts[role]
        classifier = ZeroShotClassifier(p.image_encoder, class_embeddings(p, classes), p.logit_scale)
        file = f"{role}.onnx"
        export_onnx(classifier, os.path.join(args.out, file), size)
        models[role] = {"file": file, "name": f"{args.name or os.path.basename(os.path.abspath(args.out))}-{role}",
                        "version": args.version, "sha256": sha256_of(os.path.join(args.out, file))}
    check = check_mergeable(os.path.join(args.out, "generalist.onnx"), os.path.join(args.out, "expert.onnx"))

    g = parts["generalist"]
    manifest = {
        "formatVersion": 1,
        "name": args.name or os.path.basename(os.path.abspath(args.out)),
        "version": args.version,
        "description": f"Exported by scripts/export-clip: {g.description} and {parts['expert'].description}",
        "modalities": [m.strip() for m in args.modalities.split(",") if m.strip()],
        "input": {"name": "pixel_values", "width": size, "height": size, "channels": 3,
                  "mean": g.mean, "std": g.std, "resize": "bilinear"},
        "output": {"name": "logits"},
        "classes": [bundle_class(c) for c in classes],
        "logitScale": g.logit_scale,
        "temperatures": {"generalist": 1.0, "expert": 1.0},
        "t3": {"tPt": 1, "tFt": 1, "lambdaMin": 1, "lambdaMax": 0, "gamma": 0.5, "jsThreshold": 0, "logBase": None,
               "eps": 0, "extTau": 0.1, "extDelta": 0, "guardTemperature": None, "batchAggregation": "mean-lambda"},
        "models": models,
    }
    with open(os.path.join(args.out, "bundle.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(json.dumps({"out": args.out, "image_size": size, "classes": len(classes), **check}))


if __name__ == "__main__":
    main()
