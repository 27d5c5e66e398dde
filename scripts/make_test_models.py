#!/usr/bin/python3
"""Writes the small real-model ONNX files that OrtParityTest runs, into src/test/resources/models/.

Run by hand from the repository root (never in CI; the files are committed):

    /usr/bin/python3 scripts/make_test_models.py

Needs Debian's torch 1.13, torchvision 0.14 and onnx 1.12 (`apt-get install python3-torch
python3-torchvision python3-onnx`; use /usr/bin/python3, not another interpreter on PATH).

Every network is written here in the style of a published architecture (RepVGG, MnasNet,
MobileViT); nothing is trained and no third-party weights or data are used: all weights are random,
drawn from torch's generator seeded with SEED (plus a per-model offset), with BatchNorm running
statistics set to random non-trivial values so that folding BatchNorm into the convolutions at export
changes the weights. The models are in eval mode and exported with a dynamic batch axis (named
"batch") unless noted. Re-running the script reproduces the same graphs; weights are reproducible
for the same torch build.
"""

import os
import sys

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 20240607
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "src", "test", "resources", "models")

torch.set_num_threads(2)


def randomize(model, seed):
    """Random weights and BatchNorm statistics (eval mode), reproducible from seed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                fan_in = m.weight[0].numel() if not isinstance(m, nn.ConvTranspose2d) else (
                    m.weight.shape[0] // m.groups * m.weight.shape[2] * m.weight.shape[3])
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
                if m.weight is not None:
                    m.weight.copy_(1.0 + 0.25 * torch.randn(m.weight.shape, generator=g))
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                    m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(0.25 + 0.1 * torch.randn(m.weight.shape, generator=g))
    return model.eval()


def export(model, shape, name, opset, dynamic=True, seed=0):
    """Exports model (already randomized, eval mode) to OUT/name at opset."""
    path = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(SEED + 1000 + seed))
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(
            model, x, path, opset_version=opset, input_names=["input"], output_names=["output"],
            do_constant_folding=True, **kwargs)
        y = model(x)
    print(f"{name}: torch output {tuple(y.shape)}, max |y| {y.abs().max():.3g}, std {y.std():.3g}")
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def histogram(m):
    counts = {}
    for n in m.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return " ".join(f"{k}x{v}" for k, v in sorted(counts.items()))


# ---------------------------------------------------------------- RepVGG (deploy form)

class RepVggLike(nn.Module):
    """RepVGG deploy form: plain 3x3 conv + ReLU stages (BatchNorm folds into the conv bias)."""

    def __init__(self, in_ch=3, widths=(16, 32, 48, 64), depths=(1, 2, 2, 1), classes=10):
        super().__init__()
        layers = []
        c = in_ch
        for w, d in zip(widths, depths):
            for i in range(d):
                layers += [nn.Conv2d(c, w, 3, stride=2 if i == 0 else 1, padding=1, bias=False),
                           nn.BatchNorm2d(w), nn.ReLU()]
                c = w
        self.body = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.body(x)), 1))


# ---------------------------------------------------------------- MnasNet-like

class SqueezeExcite(nn.Module):
    def __init__(self, ch, hard):
        super().__init__()
        mid = max(4, ch // 4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(ch, mid, 1)
        self.expand = nn.Conv2d(mid, ch, 1)
        self.gate = nn.Hardsigmoid() if hard else nn.Sigmoid()

    def forward(self, x):
        s = self.gate(self.expand(F.relu(self.reduce(self.pool(x)))))
        return x * s


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, k, stride, expand, se, act):
        super().__init__()
        mid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.expand = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), act())
        self.dw = nn.Sequential(
            nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid), act())
        self.se = SqueezeExcite(mid, hard=act is nn.Hardswish) if se else nn.Identity()
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + y if self.use_res else y


class MnasNetLike(nn.Module):
    """MnasNet-A1 style: depthwise-separable stem, inverted residuals (3x3/5x5, SE), hard-swish."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU(), nn.Conv2d(16, 8, 1, bias=False), nn.BatchNorm2d(8))
        cfg = [  # cin, cout, k, stride, expand, se, act
            (8, 16, 3, 2, 3, False, nn.ReLU),
            (16, 16, 3, 1, 3, False, nn.ReLU),
            (16, 24, 5, 2, 3, True, nn.ReLU),
            (24, 24, 5, 1, 3, True, nn.ReLU),
            (24, 40, 3, 2, 6, False, nn.Hardswish),
            (40, 40, 3, 1, 6, True, nn.Hardswish),
            (40, 48, 5, 1, 6, True, nn.Hardswish),
        ]
        self.blocks = nn.Sequential(*[InvertedResidual(*c) for c in cfg])
        self.head = nn.Sequential(nn.Conv2d(48, 96, 1, bias=False), nn.BatchNorm2d(96), nn.Hardswish())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(96, classes)

    def forward(self, x):
        x = self.pool(self.head(self.blocks(self.stem(x))))
        return self.fc(torch.flatten(x, 1))


# ---------------------------------------------------------------- MobileViT-like

class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * self.scale, dim=-1)
        y = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, d)
        return self.out(y)


class TransformerLayer(nn.Module):
    def __init__(self, dim, heads, ffn):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.SiLU(), nn.Linear(ffn, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class MobileVitBlock(nn.Module):
    """Local 3x3 + 1x1 conv, unfold into 2x2 patches, transformer, fold back, fuse with input."""

    def __init__(self, ch, dim, layers=2, heads=4, patch=2):
        super().__init__()
        self.patch = patch
        self.local = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.SiLU(),
                                   nn.Conv2d(ch, dim, 1, bias=False))
        self.transformer = nn.Sequential(*[TransformerLayer(dim, heads, 2 * dim) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Sequential(nn.Conv2d(dim, ch, 1, bias=False), nn.BatchNorm2d(ch), nn.SiLU())
        self.fuse = nn.Sequential(nn.Conv2d(2 * ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.SiLU())

    def forward(self, x):
        y = self.local(x)
        b, d, h, w = y.shape
        p = self.patch
        nh, nw = h // p, w // p
        # unfold: [B, d, nh, p, nw, p] -> [B*p*p, nh*nw, d]
        t = y.reshape(b, d, nh, p, nw, p).permute(0, 3, 5, 2, 4, 1).reshape(b * p * p, nh * nw, d)
        t = self.norm(self.transformer(t))
        # fold back
        y = t.reshape(b, p, p, nh, nw, d).permute(0, 5, 3, 1, 4, 2).reshape(b, d, h, w)
        y = self.proj(y)
        return self.fuse(torch.cat([x, y], dim=1))


class MobileVitLike(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.SiLU())
        self.mv2 = InvertedResidual(16, 24, 3, 2, 2, False, nn.SiLU)
        self.mv2b = InvertedResidual(24, 24, 3, 1, 2, False, nn.SiLU)
        self.vit = MobileVitBlock(24, 32)
        self.head = nn.Sequential(nn.Conv2d(24, 64, 1, bias=False), nn.BatchNorm2d(64), nn.SiLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.vit(self.mv2b(self.mv2(self.stem(x))))
        return self.fc(torch.flatten(self.pool(self.head(x)), 1))


# ---------------------------------------------------------------- the multi-opset CNN

class OpsetsCnn(nn.Module):
    """One small CNN touching the ops whose ONNX form changed across opsets 9, 11, 13 and 17."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(8, 16, 3, 2, 1)
        self.prelu = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 16, 3, 1, 1)
        self.up = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.bn_cat = nn.BatchNorm2d(48)
        self.conv4 = nn.Conv2d(48, 24, 1)
        self.fc = nn.Linear(24 + 16, classes)

    def forward(self, x):                                   # x: [B, 3, 32, 32]
        x = F.relu6(self.bn1(self.conv1(x)))                # Clip(0, 6)
        a, b = torch.split(x, 8, dim=1)                     # Split
        x = self.conv2(F.pad(a, (1, 1, 1, 1), mode="reflect"))[:, :, 1:, :-1]  # Pad, Slice -> 16x16
        x = self.prelu(x) + F.hardtanh(F.max_pool2d(b, 1, 2), -0.5, 0.5).repeat(1, 2, 1, 1)
        y = F.leaky_relu(self.conv3(F.pad(x, (0, 2, 0, 2), value=0.5)), 0.1)      # [B,16,18,18]
        y = F.max_pool2d(y, 3, 2, ceil_mode=True)           # [B,16,9,9] (floor would give 8)
        z = F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False)  # [B,16,8,8]
        near = F.interpolate(z, scale_factor=2, mode="nearest")        # [B,16,16,16]
        bil = F.interpolate(z, scale_factor=2, mode="bilinear", align_corners=False)
        w = self.up(torch.cat([near, bil], dim=1))          # ConvTranspose -> [B,16,32,32]
        w = F.avg_pool2d(w, 2, 2, padding=1, count_include_pad=True)   # [B,16,17,17]
        c = self.bn_cat(torch.cat([w, y.repeat(1, 1, 2, 2)[:, :, :17, :17],
                                   torch.sigmoid(w)], dim=1))  # BatchNormalization kept (after Concat)
        c = self.conv4(c)                                   # [B,24,17,17]
        g = c.mean(dim=(2, 3), keepdim=True)                # ReduceMean keepdim
        g = g.squeeze(3).squeeze(2)                         # Squeeze -> [B,24]
        h = y.mean(dim=(2, 3))                              # ReduceMean no keepdim -> [B,16]
        h = torch.split(h.unsqueeze(1), [6, 10], dim=2)     # Unsqueeze + Split (unequal parts)
        h = torch.cat([h[1], h[0]], dim=2).squeeze(1)       # Squeeze one axis
        logits = self.fc(torch.cat([g, h], dim=1))
        return torch.softmax(logits, dim=1)


class SmallCnn(nn.Module):
    """Plain conv-BN-ReLU CNN (the fixed-batch and external-data models)."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, 1, 1), nn.ReLU())
        self.fc = nn.Linear(32 * 8 * 8, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def main():
    os.makedirs(OUT, exist_ok=True)
    made = []

    def add(model, shape, name, opset, seed, **kw):
        torch.manual_seed(SEED + seed)
        m = export(randomize(model, SEED + seed), shape, name, opset, seed=seed, **kw)
        made.append((name, m))

    add(RepVggLike(), (1, 3, 32, 32), "repvgg_like_op13.onnx", 13, 1)
    add(MnasNetLike(), (1, 3, 64, 64), "mnasnet_like_op13.onnx", 13, 2)
    add(MobileVitLike(), (1, 3, 32, 32), "mobilevit_like_op13.onnx", 13, 3)
    add(MobileVitLike(), (1, 3, 32, 32), "mobilevit_like_op17.onnx", 17, 3)
    for opset in (9, 11, 13, 17):
        add(OpsetsCnn(), (1, 3, 32, 32), f"opsets_cnn_op{opset}.onnx", opset, 4)
    add(SmallCnn(), (1, 3, 32, 32), "fixed_batch_cnn_op13.onnx", 13, 5, dynamic=False)

    # external data: export inline first, then move every initializer to one side file
    ext = os.path.join(OUT, "external", "external_cnn.onnx")
    add(SmallCnn(), (1, 3, 32, 32), os.path.join("external", "external_cnn.onnx"), 13, 6)
    m = onnx.load(ext)
    data = ext + ".data"
    if os.path.exists(data):
        os.remove(data)
    onnx.save_model(m, ext, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="external_cnn.onnx.data", size_threshold=0)
    onnx.checker.check_model(ext)

    total = 0
    for name, m in made:
        size = os.path.getsize(os.path.join(OUT, name))
        if name.startswith("external"):
            size += os.path.getsize(data)
        total += size
        print(f"{name}: {size / 1024:.0f} KiB, {len(m.graph.node)} nodes: {histogram(m)}")
    print(f"total {total / 1024:.0f} KiB")


if __name__ == "__main__":
    sys.exit(main())
