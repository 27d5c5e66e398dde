#!/usr/bin/python3
"""Trains qdebug's three case-study models on Fashion-MNIST and writes them, with their data, to data/.

Run by hand from the repository root on a developer machine (never in CI; the outputs are committed):

    nice -n 19 /usr/bin/python3 scripts/train_case_studies.py data        # calibration + test set
    nice -n 19 /usr/bin/python3 scripts/train_case_studies.py repvgg      # RepVGG-B2 (deploy form)
    nice -n 19 /usr/bin/python3 scripts/train_case_studies.py mobilevit   # MobileViT-S profile
    nice -n 19 /usr/bin/python3 scripts/train_case_studies.py mnasnet     # torchvision mnasnet1_0, 96x96

Each model sub-command trains (resuming from ckpt/<model>.pt when it exists; a checkpoint is written
every epoch and every --ckpt-every steps inside an epoch), evaluates top-1 on the 10,000 test images,
exports data/models/<name>.onnx and appends a summary to data/models/summary.json.
Options: --epochs, --subset (number of training images, balanced per class), --batch, --lr,
--export-only (skip training, export the checkpoint as it is).

Needs Debian's torch 1.13, torchvision 0.14, onnx 1.12, numpy (`apt-get install python3-torch
python3-torchvision python3-onnx dataset-fashion-mnist`; use /usr/bin/python3). Fashion-MNIST (MIT,
Zalando Research) is read from /usr/share/datasets/fashion-mnist/ and pinned by MD5.

Every model takes the raw image: input `image`, uint8 [N, 1, 28, 28] (dynamic N); the graph casts to
float, divides by 255, normalizes with Fashion-MNIST's mean/std and, where the network's input size
is not 28, resizes bilinearly (half-pixel, no antialias). Output `logits`, float [N, 10].
Training is on CPU with fixed seeds (torch.manual_seed(SEED + model offset), the data order drawn per
epoch from a generator seeded with SEED + epoch), so a re-run reproduces the same weights on the same
torch build.
"""

import argparse
import gzip
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

SEED = 20240607
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DATA = os.path.join(ROOT, "data")
MODELS = os.path.join(DATA, "models")
CKPT = os.path.join(ROOT, "ckpt")  # git-ignored
FMNIST = "/usr/share/datasets/fashion-mnist"
MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel mean / std (of x/255)
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

torch.set_num_threads(2)


# ----------------------------------------------------------------------------------------------
# data

def read_idx(name):
    with gzip.open(os.path.join(FMNIST, name + ".gz"), "rb") as f:
        raw = f.read()
    md5 = hashlib.md5(raw).hexdigest()
    if md5 != MD5[name]:
        sys.exit(f"{name}: MD5 {md5} != expected {MD5[name]}")
    magic = int.from_bytes(raw[0:4], "big")
    if magic == 0x803:
        n, h, w = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
        return np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, h, w).copy()
    if magic == 0x801:
        n = int.from_bytes(raw[4:8], "big")
        return np.frombuffer(raw, np.uint8, offset=8).astype(np.int64)
    sys.exit(f"{name}: bad magic {magic:#x}")


def load(split):
    p = "train" if split == "train" else "t10k"
    return read_idx(f"{p}-images-idx3-ubyte"), read_idx(f"{p}-labels-idx1-ubyte")


def balanced_subset(labels, per_class, seed):
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                          for c in range(10)])
    return np.sort(idx)


def cmd_data(args):
    xtr, ytr = load("train")
    xte, yte = load("test")
    assert xtr.shape == (60000, 1, 28, 28) and xte.shape == (10000, 1, 28, 28)
    # calibration: 10 training images per class, fixed seed, in a shuffled (fixed) order
    rng = np.random.default_rng(SEED)
    idx = np.concatenate([rng.choice(np.flatnonzero(ytr == c), 10, replace=False) for c in range(10)])
    idx = idx[rng.permutation(len(idx))]
    cal = os.path.join(DATA, "calibration", "image")
    os.makedirs(cal, exist_ok=True)
    for i, j in enumerate(idx):
        np.save(os.path.join(cal, f"{i}.npy"), xtr[j:j + 1].copy())
    with open(os.path.join(DATA, "calibration", "indices.txt"), "w") as f:
        f.write("# i -> index into train-images-idx3-ubyte, label\n")
        for i, j in enumerate(idx):
            f.write(f"{i} {j} {ytr[j]}\n")
    te = os.path.join(DATA, "fmnist_test")
    os.makedirs(te, exist_ok=True)
    np.save(os.path.join(te, "images.npy"), np.ascontiguousarray(xte, dtype=np.uint8))
    np.save(os.path.join(te, "labels.npy"), yte.astype(np.int64))
    print("calibration:", len(idx), "images; test:", xte.shape, yte.shape)


# ----------------------------------------------------------------------------------------------
# preprocessing in the graph

class Preprocess(nn.Module):
    """uint8 [N,1,28,28] -> float, /255, (x - mean) / std, bilinear resize to size x size."""

    def __init__(self, size):
        super().__init__()
        self.size = size

    def forward(self, x):
        x = x.float() / 255.0
        x = (x - MEAN) / STD
        if self.size != 28:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return x


class WithPreprocess(nn.Module):
    def __init__(self, size, net):
        super().__init__()
        self.pre = Preprocess(size)
        self.net = net

    def forward(self, image):
        return self.net(self.pre(image))


# ----------------------------------------------------------------------------------------------
# RepVGG-B2 profile: stages of 1, 4, 6, 16, 1 blocks; B2 widths (64, 160, 320, 640, 2560) / 8

def conv_bn(cin, cout, k, stride, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout))


class RepBlock(nn.Module):
    """Train form: ReLU(BN(conv3x3) + BN(conv1x1) + BN(x)); deploy form: ReLU(conv3x3 + bias)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.cin, self.cout, self.stride = cin, cout, stride
        self.dense = conv_bn(cin, cout, 3, stride)
        self.point = conv_bn(cin, cout, 1, stride)
        self.ident = nn.BatchNorm2d(cin) if cin == cout and stride == 1 else None
        self.fused = None

    def forward(self, x):
        if self.fused is not None:
            return F.relu(self.fused(x))
        y = self.dense(x) + self.point(x)
        if self.ident is not None:
            y = y + self.ident(x)
        return F.relu(y)

    @staticmethod
    def _fold(kernel, bn):
        s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        return kernel * s.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * s

    def reparameterize(self):
        k3, b3 = self._fold(self.dense[0].weight, self.dense[1])
        k1, b1 = self._fold(F.pad(self.point[0].weight, [1, 1, 1, 1]), self.point[1])
        k, b = k3 + k1, b3 + b1
        if self.ident is not None:
            eye = torch.zeros(self.cout, self.cin, 3, 3)
            for i in range(self.cout):
                eye[i, i, 1, 1] = 1.0
            ki, bi = self._fold(eye, self.ident)
            k, b = k + ki, b + bi
        conv = nn.Conv2d(self.cin, self.cout, 3, self.stride, 1, bias=True)
        conv.weight.data.copy_(k.detach())
        conv.bias.data.copy_(b.detach())
        self.fused = conv
        del self.dense, self.point, self.ident
        self.dense = self.point = self.ident = None


class RepVGG(nn.Module):
    def __init__(self, depths=(1, 4, 6, 16, 1), widths=(8, 20, 40, 80, 320), num_classes=10, cin=1):
        super().__init__()
        blocks = []
        c = cin
        for d, w in zip(depths, widths):
            for i in range(d):
                blocks.append(RepBlock(c, w, 2 if i == 0 else 1))
                c = w
        self.features = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)

    def reparameterize(self):
        for m in self.features:
            m.reparameterize()


# ----------------------------------------------------------------------------------------------
# MobileViT-S profile, scaled down

def conv_bn_act(cin, cout, k=3, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 project (linear), residual when shapes allow."""

    def __init__(self, cin, cout, stride, expand=4):
        super().__init__()
        h = cin * expand
        self.block = nn.Sequential(conv_bn_act(cin, h, 1), conv_bn_act(h, h, 3, stride, groups=h),
                                   conv_bn_act(h, cout, 1, act=False))
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.res else y


class Attention(nn.Module):
    def __init__(self, d, heads, tokens):
        super().__init__()
        self.d, self.t, self.heads, self.hd = d, tokens, heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):  # x: [B, T, d]
        t, d = self.t, self.d  # constants, so the export has no Shape/Gather chains here
        qkv = self.qkv(x).reshape(-1, t, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, h, T, hd]
        a = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * (self.hd ** -0.5), dim=-1)
        y = torch.matmul(a, v).permute(0, 2, 1, 3).reshape(-1, t, d)
        return self.proj(y)


class TransformerLayer(nn.Module):
    def __init__(self, d, heads, mlp, tokens):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(d), Attention(d, heads, tokens)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, mlp), nn.SiLU(), nn.Linear(mlp, d))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class MobileViTBlock(nn.Module):
    """local 3x3 + 1x1 -> unfold into 2x2 patches -> L transformer layers -> fold -> 1x1 -> concat with
    the input -> 3x3 fusion."""

    def __init__(self, c, d, layers, hw, patch=2, head_dim=16):
        super().__init__()
        self.d, self.p, self.hw = d, patch, hw
        self.local = nn.Sequential(conv_bn_act(c, c, 3), nn.Conv2d(c, d, 1, bias=False))
        self.transformer = nn.Sequential(*[TransformerLayer(d, d // head_dim, 2 * d, (hw // patch) ** 2) for _ in range(layers)])
        self.norm = nn.LayerNorm(d)
        self.proj = conv_bn_act(d, c, 1)
        self.fuse = conv_bn_act(2 * c, c, 3)

    def forward(self, x):
        y = self.local(x)
        d, p, hw = self.d, self.p, self.hw
        n = hw // p
        # unfold: [B, d, H, W] -> [B*p*p, n*n, d]  (pixels at the same position in each patch attend)
        y = y.reshape(-1, d, n, p, n, p).permute(0, 3, 5, 2, 4, 1).reshape(-1, n * n, d)
        y = self.norm(self.transformer(y))
        # fold back
        y = y.reshape(-1, p, p, n, n, d).permute(0, 5, 3, 1, 4, 2).reshape(-1, d, hw, hw)
        y = self.proj(y)
        return self.fuse(torch.cat([x, y], dim=1))


class MobileViT(nn.Module):
    """MobileViT-S layout (stem, MV2 x1, MV2 x3, MV2 + MViT(L=2), MV2 + MViT(L=4), MV2 + MViT(L=3),
    1x1 conv to 4x, pool, fc) with widths scaled to (8, 16, 24, 32, 48, 64) and d = (48, 64, 80)
    instead of (16, 32, 64, 96, 128, 160) and (144, 192, 240)."""

    def __init__(self, size=64, num_classes=10, cin=1,
                 widths=(8, 16, 24, 32, 48, 64), dims=(48, 64, 80), depths=(2, 4, 3)):
        super().__init__()
        w = widths
        self.stem = conv_bn_act(cin, w[0], 3, 2)                      # size/2
        self.layer1 = InvertedResidual(w[0], w[1], 1)
        self.layer2 = nn.Sequential(InvertedResidual(w[1], w[2], 2),  # size/4
                                    InvertedResidual(w[2], w[2], 1), InvertedResidual(w[2], w[2], 1))
        self.layer3 = nn.Sequential(InvertedResidual(w[2], w[3], 2),  # size/8
                                    MobileViTBlock(w[3], dims[0], depths[0], size // 8))
        self.layer4 = nn.Sequential(InvertedResidual(w[3], w[4], 2),  # size/16
                                    MobileViTBlock(w[4], dims[1], depths[1], size // 16))
        self.layer5 = nn.Sequential(InvertedResidual(w[4], w[5], 2),  # size/32
                                    MobileViTBlock(w[5], dims[2], depths[2], size // 32))
        self.head = conv_bn_act(w[5], 4 * w[5], 1)
        self.fc = nn.Linear(4 * w[5], num_classes)

    def forward(self, x):
        x = self.layer5(self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x))))))
        x = F.adaptive_avg_pool2d(self.head(x), 1).flatten(1)
        return self.fc(x)


# ----------------------------------------------------------------------------------------------
# MnasNet 1.0: torchvision's own class, 1-channel stem, BatchNorm momentum 0.1

def make_mnasnet():
    m = torchvision.models.mnasnet1_0(weights=None, num_classes=10)
    old = m.layers[0]
    m.layers[0] = nn.Conv2d(1, old.out_channels, 3, 2, 1, bias=False)
    nn.init.kaiming_normal_(m.layers[0].weight, mode="fan_out", nonlinearity="relu")
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum = 0.1
    # torchvision initializes the classifier with kaiming_uniform(mode="fan_out"), which with 10
    # outputs (fan_out 10 instead of 1000) gives initial logits of std ~10 and a loss that first
    # explodes (seen: mean loss 7.9 over the first 20 steps); start it small instead.
    fc = m.classifier[1]
    nn.init.normal_(fc.weight, std=0.01)
    nn.init.zeros_(fc.bias)
    return m


# ----------------------------------------------------------------------------------------------
# training / evaluation / export

SPECS = {
    # name: (builder, input size, file, seed offset, defaults)
    "repvgg": dict(build=lambda: RepVGG(), size=32, file="repvgg_b2_deploy_fmnist_32x32.onnx", off=1,
                   epochs=3, subset=60000, batch=128, lr=3e-3, wd=1e-4),
    "mobilevit": dict(build=lambda: MobileViT(64), size=64, file="mobilevit_s_fmnist_64x64.onnx", off=2,
                      epochs=1, subset=20000, batch=64, lr=2e-3, wd=0.02),
    "mnasnet": dict(build=make_mnasnet, size=96, file="mnasnet1.0_fmnist_96x96.onnx", off=3,
                    epochs=1, subset=20000, batch=64, lr=2e-3, wd=1e-4),
}


def evaluate(model, x, y, bs=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), bs):
            out = model(torch.from_numpy(x[i:i + bs]))
            correct += int((out.argmax(1).numpy() == y[i:i + bs]).sum())
    return correct / len(x)


def train(name, spec, args):
    torch.manual_seed(SEED + spec["off"])
    model = WithPreprocess(spec["size"], spec["build"]())
    xtr, ytr = load("train")
    xte, yte = load("test")
    if args.subset < 60000:
        keep = balanced_subset(ytr, args.subset // 10, SEED)
        xtr, ytr = xtr[keep], ytr[keep]
    steps_per_epoch = len(xtr) // args.batch
    total = steps_per_epoch * args.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total, pct_start=0.15,
                                                div_factor=20, final_div_factor=200)
    os.makedirs(CKPT, exist_ok=True)
    ck = os.path.join(CKPT, name + ".pt")
    state = dict(epoch=0, step=0, seconds=0.0, log=[])
    if os.path.exists(ck):
        c = torch.load(ck)
        model.load_state_dict(c["model"])
        opt.load_state_dict(c["opt"])
        sched.load_state_dict(c["sched"])
        state = c["state"]
        print(f"resumed {ck}: epoch {state['epoch']} step {state['step']}", flush=True)

    def save():
        tmp = ck + ".tmp"
        torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), sched=sched.state_dict(),
                        state=state, args=vars(args)), tmp)
        os.replace(tmp, ck)

    if args.export_only:
        return model, state, xte, yte, len(xtr)
    params = sum(p.numel() for p in model.parameters())
    print(f"{name}: {params} parameters (train form), {len(xtr)} images, {steps_per_epoch} steps/epoch, "
          f"{args.epochs} epochs", flush=True)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    while state["epoch"] < args.epochs:
        e = state["epoch"]
        perm = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(SEED + 1000 * spec["off"] + e))
        model.train()
        t0, t_n, run_loss, run_n = time.time(), 0, 0.0, 0
        while state["step"] < steps_per_epoch:
            s = state["step"]
            b = perm[s * args.batch:(s + 1) * args.batch]
            out = model(xt[b])
            loss = F.cross_entropy(out, yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            state["step"] += 1
            run_loss += loss.item()
            run_n += 1
            t_n += 1
            if state["step"] % 20 == 0:
                dt = time.time() - t0
                print(f"epoch {e} step {state['step']}/{steps_per_epoch} loss {run_loss / run_n:.4f} "
                      f"lr {sched.get_last_lr()[0]:.2e} {dt / t_n:.2f}s/step", flush=True)
            if state["step"] % args.ckpt_every == 0:
                state["seconds"] += time.time() - t0
                save()
                t0, t_n = time.time(), 0
        state["seconds"] += time.time() - t0
        acc = evaluate(model, xte[:2000], yte[:2000])
        state["log"].append(dict(epoch=e, loss=run_loss / max(run_n, 1), acc_test2000=acc))
        state["epoch"] += 1
        state["step"] = 0
        save()
        print(f"epoch {e} done: train loss {run_loss / max(run_n, 1):.4f}, test[:2000] acc {acc:.4f}, "
              f"train time so far {state['seconds'] / 60:.1f} min", flush=True)
    return model, state, xte, yte, len(xtr)


def export(name, spec, model, state, xte, yte, n_train, args):
    model.eval()
    if name == "repvgg":
        ref = model(torch.from_numpy(xte[:256])).detach()
        acc_train_form = evaluate(model, xte, yte)
        model.net.reparameterize()
        model.eval()
        dep = model(torch.from_numpy(xte[:256])).detach()
        diff = float((ref - dep).abs().max())
        print(f"deploy vs train form: max |diff| {diff:.2e} (train-form acc {acc_train_form:.4f})")
        if diff > 1e-4:
            sys.exit("re-parameterization mismatch")
    acc = evaluate(model, xte, yte)
    params = sum(p.numel() for p in model.parameters())
    print(f"{name}: test top-1 {acc:.4f}, {params} parameters (exported form)", flush=True)
    os.makedirs(MODELS, exist_ok=True)
    path = os.path.join(MODELS, spec["file"])
    dummy = torch.from_numpy(xte[:2])
    torch.onnx.export(model, dummy, path, opset_version=13, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    onnx.shape_inference.infer_shapes(m, strict_mode=True)
    size = os.path.getsize(path)
    if size > 25 * 1024 * 1024:
        sys.exit(f"{path} is {size} bytes, over 25 MB")
    ops = sorted({n.op_type for n in m.graph.node})
    try:
        from onnx.reference import ReferenceEvaluator  # onnx >= 1.13
        sess = ReferenceEvaluator(m)
        got = sess.run(None, {"image": xte[:8]})[0]
        want = model(torch.from_numpy(xte[:8])).detach().numpy()
        onnx_check = f"ReferenceEvaluator max |diff| {float(np.abs(got - want).max()):.2e} on 8 images"
    except ImportError:
        onnx_check = "onnx.reference not available in this onnx version: skipped"
    print(onnx_check)
    # save the test logits of the torch module so the engine can be compared against them
    summ_path = os.path.join(MODELS, "summary.json")
    summ = json.load(open(summ_path)) if os.path.exists(summ_path) else {}
    summ[spec["file"]] = dict(
        test_top1=acc, params=params, input_size=spec["size"], bytes=size, epochs=state["epoch"],
        train_images=n_train, batch=args.batch, optimizer=f"AdamW lr {args.lr} wd {args.wd}, OneCycle cosine",
        seed=SEED + spec["off"], train_minutes=round(state["seconds"] / 60, 1), epoch_log=state["log"],
        onnx_ops=ops, onnx_check=onnx_check, torch=torch.__version__, onnx=onnx.__version__)
    with open(summ_path, "w") as f:
        json.dump(summ, f, indent=1, sort_keys=True)
    print(f"wrote {path} ({size} bytes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["data"] + list(SPECS))
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--subset", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--wd", type=float)
    ap.add_argument("--ckpt-every", type=int, default=50)
    ap.add_argument("--export-only", action="store_true")
    args = ap.parse_args()
    if args.what == "data":
        return cmd_data(args)
    spec = SPECS[args.what]
    for k in ("epochs", "subset", "batch", "lr", "wd"):
        if getattr(args, k) is None:
            setattr(args, k, spec[k])
    model, state, xte, yte, n = train(args.what, spec, args)
    export(args.what, spec, model, state, xte, yte, n, args)


if __name__ == "__main__":
    main()
