"""Procedurally generated chest-radiograph-like images with seven findings and "scanner" styles.

Every image is drawn in a canonical body frame (u, v in [-1, 1], v pointing down) and then seen through a random
geometry (rotation, scale, shift) and a scanner style (window, gamma, blur, noise, anti-scatter grid, vignetting,
collimation, side marker). Anatomy: body outline, two lung fields with ribs and vessel markings, mediastinum and
spine, heart, diaphragm. Findings change the anatomy the way they change a radiograph (a dark rim without
markings for pneumothorax, a basal opacity with a meniscus for effusion, a wide heart for cardiomegaly, ...).

Style families (what makes the evaluation's splits):
- "broad": every parameter drawn from a wide range (the generalist's training distribution).
- "in-domain": one narrow "portable low-dose scanner" corner of it: dark gamma, low contrast, high noise, a strong
  horizontal anti-scatter grid, almost no rotation (the expert's fine-tuning data and the in-domain test split).
- "shifted": another corner that the expert never sees: bright gamma, wide window, little noise, blur, rotation,
  a vertical grid or none (the base-to-novel shifted test split).
Everything is vectorised over the batch and driven by an explicit torch.Generator, so a seed fixes every pixel.
"""
import math

import torch
import torch.nn.functional as F

IMAGE_SIZE = 64

# (label, prompt, SNOMED CT code, code meaning); the order is the model's class order.
CLASSES = [
    ("Normal", "a normal chest radiograph", "17621005", "Normal"),
    ("Pneumothorax", "a chest radiograph showing pneumothorax", "36118008", "Pneumothorax"),
    ("Pleural effusion", "a chest radiograph showing pleural effusion", "60046008", "Pleural effusion"),
    ("Cardiomegaly", "a chest radiograph showing cardiomegaly", "287272002", "Cardiomegaly"),
    ("Nodule", "a chest radiograph showing a lung nodule", "27925004", "Nodule"),
    ("Mass", "a chest radiograph showing a lung mass", "4147007", "Mass"),
    ("Pulmonary edema", "a chest radiograph showing pulmonary edema", "19242006", "Pulmonary edema"),
]
NORMAL, PNEUMOTHORAX, EFFUSION, CARDIOMEGALY, NODULE, MASS, EDEMA = range(7)

STYLES = ("broad", "in-domain", "shifted")


def _u(g, n, lo, hi):
    return lo + (hi - lo) * torch.rand(n, generator=g)


def _col(t):
    """[B] -> [B,1,1] so per-image parameters broadcast over the pixel grid."""
    return t.view(-1, 1, 1)


def _soft(inside_distance, sharpness=40.0):
    """Soft indicator of `inside_distance > 0` (positive inside a shape), anti-aliased at 64 px."""
    return torch.sigmoid(sharpness * inside_distance)


def _ellipse(u, v, cu, cv, ru, rv):
    """Normalised radius of (u, v) in an axis-aligned ellipse: < 1 inside."""
    return torch.sqrt(((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 + 1e-9)


def _smooth_noise(g, n, cells, size=IMAGE_SIZE):
    """Band-limited noise in [-1, 1]: a coarse random grid upsampled bicubically."""
    coarse = torch.rand(n, 1, cells, cells, generator=g) * 2 - 1
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[:, 0].clamp(-1, 1)


def _style_params(g, n, style):
    """Scanner and geometry parameters per image for one style family."""
    if style == "broad":
        p = dict(
            rot=_u(g, n, -0.22, 0.22), scale=_u(g, n, 0.82, 1.15), du=_u(g, n, -0.09, 0.09), dv=_u(g, n, -0.09, 0.09),
            gamma=torch.exp(_u(g, n, math.log(0.5), math.log(2.0))), lo=_u(g, n, -0.1, 0.22), hi=_u(g, n, 0.68, 1.1),
            noise=_u(g, n, 0.0, 0.11), blur=_u(g, n, 0.0, 1.1), grid_amp=_u(g, n, 0.0, 0.06) * (torch.rand(n, generator=g) < 0.4),
            grid_vertical=torch.rand(n, generator=g) < 0.5, grid_period=_u(g, n, 2.5, 4.0), vignette=_u(g, n, 0.0, 0.35),
            collimation=_u(g, n, 0.0, 6.0) * (torch.rand(n, generator=g) < 0.4), marker=torch.rand(n, generator=g) < 0.5,
        )
    elif style == "in-domain":
        p = dict(
            rot=_u(g, n, -0.04, 0.04), scale=_u(g, n, 0.95, 1.05), du=_u(g, n, -0.03, 0.03), dv=_u(g, n, -0.03, 0.03),
            gamma=_u(g, n, 1.5, 2.0), lo=_u(g, n, 0.1, 0.2), hi=_u(g, n, 0.7, 0.8),
            noise=_u(g, n, 0.07, 0.1), blur=_u(g, n, 0.3, 0.6), grid_amp=_u(g, n, 0.045, 0.06),
            grid_vertical=torch.zeros(n, dtype=torch.bool), grid_period=_u(g, n, 2.8, 3.2), vignette=_u(g, n, 0.2, 0.35),
            collimation=_u(g, n, 2.0, 5.0), marker=torch.ones(n, dtype=torch.bool),
        )
    elif style == "shifted":
        p = dict(
            rot=_u(g, n, -0.22, 0.22), scale=_u(g, n, 0.82, 1.15), du=_u(g, n, -0.09, 0.09), dv=_u(g, n, -0.09, 0.09),
            gamma=_u(g, n, 0.5, 0.75), lo=_u(g, n, -0.1, 0.0), hi=_u(g, n, 0.95, 1.1),
            noise=_u(g, n, 0.0, 0.03), blur=_u(g, n, 0.6, 1.1), grid_amp=_u(g, n, 0.0, 0.03) * (torch.rand(n, generator=g) < 0.5),
            grid_vertical=torch.ones(n, dtype=torch.bool), grid_period=_u(g, n, 2.5, 4.0), vignette=_u(g, n, 0.0, 0.1),
            collimation=torch.zeros(n), marker=torch.rand(n, generator=g) < 0.2,
        )
    else:
        raise ValueError(f"unknown style {style!r} (one of {STYLES})")
    return p


def _anatomy(g, labels, u, v):
    """Grey anatomy in [0, 1] before the scanner, in the canonical frame, with each label's finding drawn in."""
    n = labels.shape[0]
    lab = _col(labels)
    side = _col(torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0))   # which lung a one-sided finding is in

    body_r = _ellipse(u, v, 0.0, 0.05, _col(_u(g, n, 0.82, 0.9)), 0.98)
    img = 0.06 + 0.42 * _soft(1 - body_r, 25)

    lung_ru, lung_rv = _col(_u(g, n, 0.25, 0.3)), _col(_u(g, n, 0.5, 0.58))
    lungs_r = []
    for s in (-1.0, 1.0):
        lungs_r.append(_ellipse(u, v, 0.38 * s, -0.07, lung_ru, lung_rv))
    lung_mask = torch.maximum(_soft(1 - lungs_r[0], 25), _soft(1 - lungs_r[1], 25))
    # Rib shadows and vessel markings only exist inside aerated lung.
    ribs = 0.05 * _soft(torch.sin(v * _col(_u(g, n, 22, 28)) + _col(_u(g, n, 0, 6.28))) - 0.5, 6)
    markings = 0.06 * _smooth_noise(g, n, 12).clamp(0, 1) * (1.2 - (u.abs() - 0.15).clamp(0, 1))
    edema = (lab == EDEMA).float()
    edema_haze = edema * 0.24 * (torch.exp(-((u.abs() - 0.22) ** 2 + v ** 2) / 0.05)
                                 + 0.5 * _smooth_noise(g, n, 20).clamp(0, 1) * (v > 0.0).float())
    lung_tissue = 0.16 + ribs + markings + edema_haze

    # Pneumothorax: the outer rim of one lung has no markings (air outside a collapsed lung), with a pleural line.
    ptx_side_r = torch.where(side < 0, lungs_r[0], lungs_r[1])
    ptx_width = _col(_u(g, n, 0.16, 0.3))
    lateral = (u * side > 0.2).float() + (v < -0.3).float()
    ptx = (lab == PNEUMOTHORAX).float() * (lateral > 0).float() * _soft(ptx_side_r - (1 - ptx_width), 40)
    pleural_line = (lab == PNEUMOTHORAX).float() * (lateral > 0).float() * torch.exp(-((ptx_side_r - (1 - ptx_width)) / 0.03) ** 2)
    lung_tissue = lung_tissue * (1 - ptx) + 0.04 * ptx + 0.18 * pleural_line * _soft(1 - ptx_side_r, 25)

    img = img * (1 - lung_mask) + lung_tissue * lung_mask

    # Effusion: a basal opacity in one lung whose upper edge rises laterally (the meniscus).
    level = _col(_u(g, n, 0.05, 0.3))
    eff_r = torch.where(side < 0, lungs_r[0], lungs_r[1])
    meniscus = v - (level - 0.5 * (u * side - 0.38).clamp(min=0))
    eff = (lab == EFFUSION).float() * _soft(meniscus, 30) * _soft(1.04 - eff_r, 25) * (u * side > 0.05).float()
    img = img * (1 - eff) + 0.58 * eff

    # Mediastinum and spine, then the heart (its width is the cardiothoracic ratio cardiomegaly changes).
    img = torch.maximum(img, 0.55 * _soft(0.09 - u.abs(), 40) * _soft(0.95 - v.abs(), 25))
    heart_w = torch.where(lab == CARDIOMEGALY, _col(_u(g, n, 0.33, 0.42)), _col(_u(g, n, 0.17, 0.25)))
    heart_r = _ellipse(u, v, _col(_u(g, n, 0.03, 0.1)), 0.28, heart_w, _col(_u(g, n, 0.2, 0.26)))
    img = torch.maximum(img, 0.66 * _soft(1 - heart_r, 25))
    # Diaphragm: bright below a dome across both lungs.
    dome = v - (0.45 + 0.25 * u ** 2 + _col(_u(g, n, -0.05, 0.05)))
    img = torch.maximum(img, 0.6 * _soft(dome, 30) * _soft(1 - body_r, 25))

    # Nodules (1 to 3 small discs) and a mass (one large irregular blob), inside a lung.
    def lung_point():
        s = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
        ang = _u(g, n, 0, 2 * math.pi)
        rad = torch.sqrt(_u(g, n, 0.0, 0.5))
        return _col(s * 0.38 + rad * 0.2 * torch.cos(ang)), _col(-0.1 + rad * 0.4 * torch.sin(ang))

    nod = torch.zeros_like(img)
    count = torch.randint(1, 4, (n,), generator=g)
    for k in range(3):
        cu, cv = lung_point()
        r = _col(_u(g, n, 0.045, 0.075))
        present = _col(((labels == NODULE) & (count > k)).float())
        nod = torch.maximum(nod, present * _soft(1 - _ellipse(u, v, cu, cv, r, r), 6))
    img = img + 0.3 * nod
    cu, cv = lung_point()
    r = _col(_u(g, n, 0.12, 0.2))
    wobble = 1 + 0.15 * torch.sin(torch.atan2(v - cv, u - cu) * 5 + _col(_u(g, n, 0, 6.28)))
    mass = _col((labels == MASS).float()) * _soft(wobble - _ellipse(u, v, cu, cv, r, r), 8)
    img = img + 0.32 * mass
    return img


def _gaussian_blur(img, sigma):
    """Separable Gaussian blur with a per-image sigma in pixels (sigma 0 leaves the image unchanged)."""
    n = img.shape[0]
    radius = 4
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    s = sigma.clamp(min=1e-3).view(n, 1)
    k = torch.exp(-0.5 * (x.view(1, -1) / s) ** 2)
    k = k / k.sum(dim=1, keepdim=True)                       # [n, 9]
    # Grouped 2-D convolutions (one group per image) apply a different kernel to each image.
    horiz = F.conv2d(F.pad(img.unsqueeze(0), (radius, radius, 0, 0), mode="replicate"), k.view(n, 1, 1, -1), groups=n)
    both = F.conv2d(F.pad(horiz, (0, 0, radius, radius), mode="replicate"), k.view(n, 1, -1, 1), groups=n)
    return both[0]


def _scanner(g, img, p, ys, xs):
    n = img.shape[0]
    img = _gaussian_blur(img, p["blur"])
    # Window then gamma: the detector's transfer curve.
    img = ((img - _col(p["lo"])) / _col(p["hi"] - p["lo"])).clamp(0, 1) ** _col(p["gamma"])
    # Vignetting (heel effect), anti-scatter grid lines, quantum noise that grows with the signal.
    img = img * (1 - _col(p["vignette"]) * ((xs / 32.0 - 1) ** 2 + (ys / 32.0 - 1) ** 2) / 2)
    coord = torch.where(_col(p["grid_vertical"]), xs.expand(n, -1, -1), ys.expand(n, -1, -1))
    img = img + _col(p["grid_amp"]) * torch.sin(2 * math.pi * coord / _col(p["grid_period"]))
    noise = torch.randn(img.shape, generator=g)
    img = img + _col(p["noise"]) * (0.6 + 0.8 * img.clamp(0, 1)) * noise
    # Collimation borders (black), and a bright side marker in the upper left corner.
    c = _col(p["collimation"])
    inside = (xs >= c) & (xs < IMAGE_SIZE - c) & (ys >= c) & (ys < IMAGE_SIZE - c)
    img = torch.where(inside, img, torch.zeros_like(img))
    marker = _col(p["marker"]) & (xs >= c + 2) & (xs < c + 6) & (ys >= c + 2) & (ys < c + 8)
    img = torch.where(marker, torch.full_like(img, 0.95), img)
    return img.clamp(0, 1)


def generate(g: torch.Generator, count: int, style: str, labels: torch.Tensor = None):
    """Returns (images [count,64,64] float in [0,1], labels [count] int64) for one style family."""
    if labels is None:
        labels = torch.randint(0, len(CLASSES), (count,), generator=g)
    p = _style_params(g, count, style)
    ys, xs = torch.meshgrid(torch.arange(IMAGE_SIZE, dtype=torch.float32), torch.arange(IMAGE_SIZE, dtype=torch.float32),
                            indexing="ij")
    ys, xs = ys.unsqueeze(0), xs.unsqueeze(0)
    # Pixel -> canonical body frame: undo shift, rotation and scale.
    x = (xs + 0.5) / IMAGE_SIZE * 2 - 1
    y = (ys + 0.5) / IMAGE_SIZE * 2 - 1
    x, y = x - _col(p["du"]), y - _col(p["dv"])
    cos, sin = _col(torch.cos(p["rot"])), _col(torch.sin(p["rot"]))
    u = (cos * x + sin * y) / _col(p["scale"])
    v = (-sin * x + cos * y) / _col(p["scale"])
    img = _anatomy(g, labels, u, v)
    img = _scanner(g, img, p, ys, xs)
    return img, labels
