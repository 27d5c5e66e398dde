#!/usr/bin/python3
"""Writes QDQ models made the way other tools make them, for ForeignQdqTest, into
src/test/resources/models/foreign/.

Run by hand from the repository root (never in CI; the files are committed):

    /usr/bin/python3 scripts/make_foreign_qdq_models.py

Needs Debian's torch 1.13 and onnx 1.12 (use /usr/bin/python3). There is no onnxruntime Python
package here: ONNX Runtime's layout is written by hand (second model) following its documented
QDQ format; the Java test checks every file against ONNX Runtime (Java).

Files (all weights random, fixed seeds, nothing trained, no third-party weights or data):

* torch_fx_qdq_op13.onnx / torch_fx_float_op13.onnx: a small CNN (conv-bn-relu x3, residual
  add, average pool, linear) quantized with PyTorch's own tooling (torch.ao.quantization FX:
  fuse_fx, prepare_qat_fx with FakeQuantize modules, calibrated on random data) and exported by
  torch.onnx.export at opset 13, which writes each FakeQuantize as QuantizeLinear ->
  DequantizeLinear (per-channel, axis 0, for the weights). The float file is the same fused
  network (same weights) exported without quantization.
* ort_style_qdq_op13.onnx / ort_style_float_op13.onnx: the layout ONNX Runtime's
  quantize_static(..., quant_format=QuantFormat.QDQ) writes (int8 per-channel weights and int32
  biases stored quantized behind DequantizeLinear, uint8 asymmetric activations as Q->DQ pairs,
  removable Relus removed, ORT's tensor names), then with the shared DequantizeLinear split the
  way ORT's qdq_helpers/optimize_qdq_model.py does it (one QuantizeLinear, two DequantizeLinear).
  The float file is the same graph without any Q/DQ, holding the dequantized weights and biases:
  the float model that the QDQ file's numbers stand for.
"""

import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

SEED = 20240611
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "src", "test", "resources", "models", "foreign")

torch.set_num_threads(2)


def histogram(m):
    counts = {}
    for n in m.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return " ".join(f"{k}x{v}" for k, v in sorted(counts.items()))


# ---------------------------------------------------------------- PyTorch FX quantization

class ResCnn(nn.Module):
    """conv-bn-relu x3, residual add (block 1 output + block 3 output), avgpool, linear."""

    def __init__(self, ch=16, classes=10):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(3, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU())
        self.b2 = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(ch, classes)

    def forward(self, x):
        y = self.b1(x)
        z = self.b3(self.b2(y))
        return self.fc(torch.flatten(self.pool(y + z), 1))


def randomize(model, seed):
    """Random weights and non-trivial BatchNorm statistics (so folding changes the weights)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1.0 + 0.25 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return model.eval()


def torch_fx_models():
    from torch.ao.quantization import (FakeQuantize, MinMaxObserver, PerChannelMinMaxObserver,
                                       QConfig, QConfigMapping, disable_observer)
    from torch.ao.quantization.quantize_fx import fuse_fx, prepare_qat_fx

    seed = SEED + 1
    torch.manual_seed(seed)
    model = randomize(ResCnn(), seed)
    example = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(seed + 1000))

    # eval-mode fusion folds each BatchNorm into its conv: Conv+ReLU modules (ConvReLU2d)
    fused = fuse_fx(model).eval()

    # activations: uint8 asymmetric per tensor, full range; weights: int8 symmetric per channel
    activation = FakeQuantize.with_args(
        observer=MinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8,
        qscheme=torch.per_tensor_affine, reduce_range=False)
    weight = FakeQuantize.with_args(
        observer=PerChannelMinMaxObserver, quant_min=-128, quant_max=127, dtype=torch.qint8,
        qscheme=torch.per_channel_symmetric, ch_axis=0, reduce_range=False)
    qconfig = QConfig(activation=activation, weight=weight)
    prepared = prepare_qat_fx(fused.train(), QConfigMapping().set_global(qconfig), example_inputs=(example,))

    # calibrate on random data (observers on, fake quantization on), then freeze the parameters
    prepared.eval()
    g = torch.Generator().manual_seed(seed + 2000)
    with torch.no_grad():
        for _ in range(16):
            prepared(torch.randn(4, 3, 32, 32, generator=g))
    prepared.apply(disable_observer)
    fused.eval()

    names = {"input_names": ["input"], "output_names": ["output"],
             "dynamic_axes": {"input": {0: "batch"}, "output": {0: "batch"}}}
    out = {}
    for name, m in (("torch_fx_qdq_op13.onnx", prepared), ("torch_fx_float_op13.onnx", fused)):
        path = os.path.join(OUT, name)
        with torch.no_grad():
            torch.onnx.export(m, example, path, opset_version=13, do_constant_folding=True, **names)
            y = m(example)
        onnx.checker.check_model(onnx.load(path))
        print(f"{name}: torch output {tuple(y.shape)}, max |y| {y.abs().max():.3g}")
        out[name] = onnx.load(path)
    return out


# ---------------------------------------------------------------- ONNX Runtime's QDQ layout

def ort_activation_params(lo, hi):
    """uint8 asymmetric, as ORT's compute_scale_zp: range widened to include 0."""
    lo = np.float32(min(lo, 0.0))
    hi = np.float32(max(hi, 0.0))
    scale = np.float32((hi - lo) / np.float32(255))
    if scale == 0:
        scale = np.float32(1)
    zp = int(np.clip(np.round(0 - lo / scale), 0, 255))
    return scale, zp


def ort_weight_per_channel(w):
    """int8 symmetric per output channel (axis 0) in [-127, 127], as ORT's default for weights."""
    c = w.shape[0]
    absmax = np.abs(w.reshape(c, -1)).max(axis=1).astype(np.float32)
    scale = (absmax / np.float32(127)).astype(np.float32)
    scale[scale == 0] = 1
    q = np.clip(np.round(w / scale.reshape((c,) + (1,) * (w.ndim - 1))), -127, 127).astype(np.int8)
    return q, scale


def dequant(q, scale, axis_len_shape):
    return (q.astype(np.float32) * scale.reshape(axis_len_shape)).astype(np.float32)


def ort_style_models():
    seed = SEED + 2
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, std):
        return (torch.randn(shape, generator=g) * std).numpy().astype(np.float32)

    ch, classes = 8, 10
    layers = {  # name: (weight shape, pads)
        "conv1": ((ch, 3, 3, 3), 1),
        "conv2": ((ch, ch, 3, 3), 1),
        "conv3": ((ch, ch, 3, 3), 1),
        "shortcut": ((ch, 3, 1, 1), 0),
    }
    w, b = {}, {}
    for name, (shape, _) in layers.items():
        fan_in = int(np.prod(shape[1:]))
        w[name] = rnd(*shape, std=(2.0 / fan_in) ** 0.5)
        b[name] = rnd(shape[0], std=0.1)
    w["fc"] = rnd(classes, ch, std=(1.0 / ch) ** 0.5)
    b["fc"] = rnd(classes, std=0.1)

    def forward(x, w, b, relu=True):
        """The float network; tensor name -> value. With relu=False the Relus ORT removed are gone."""
        t = {"input": x}
        act = F.relu if relu else (lambda v: v)
        T = torch.from_numpy
        t["relu1"] = act(F.conv2d(x, T(w["conv1"]), T(b["conv1"]), padding=1))
        t["relu2"] = act(F.conv2d(t["relu1"], T(w["conv2"]), T(b["conv2"]), padding=1))
        t["conv3_out"] = F.conv2d(t["relu2"], T(w["conv3"]), T(b["conv3"]), padding=1)
        t["shortcut_out"] = F.conv2d(x, T(w["shortcut"]), T(b["shortcut"]))
        t["add1_out"] = t["relu1"] + t["conv3_out"]
        t["add2_out"] = t["add1_out"] + t["shortcut_out"]
        t["pool_out"] = t["add2_out"].mean(dim=(2, 3), keepdim=True)
        t["flat_out"] = torch.flatten(t["pool_out"], 1)
        t["output"] = t["flat_out"] @ T(w["fc"]).t() + T(b["fc"])
        return t

    # calibration: min/max of every activation ORT would quantize, over random batches, float model
    quantized = ["input", "relu1", "relu2", "conv3_out", "shortcut_out", "add1_out", "add2_out",
                 "pool_out", "flat_out", "output"]
    lo = {k: np.inf for k in quantized}
    hi = {k: -np.inf for k in quantized}
    gd = torch.Generator().manual_seed(seed + 2000)
    with torch.no_grad():
        for _ in range(16):
            t = forward(torch.randn(4, 3, 16, 16, generator=gd), w, b)
            for k in quantized:
                lo[k] = min(lo[k], float(t[k].min()))
                hi[k] = max(hi[k], float(t[k].max()))
    act = {k: ort_activation_params(lo[k], hi[k]) for k in quantized}
    assert act["relu1"][1] == 0 and act["relu2"][1] == 0  # the uint8 clamp at 0 is the ReLU

    # weights per channel; biases int32 with scale = input scale * weight scale, zero point 0
    qw, sw, qb, sb = {}, {}, {}, {}
    conv_input = {"conv1": "input", "conv2": "relu1", "conv3": "relu2", "shortcut": "input",
                  "fc": "flat_out"}
    for name in w:
        qw[name], sw[name] = ort_weight_per_channel(w[name])
        sb[name] = (np.float32(act[conv_input[name]][0]) * sw[name]).astype(np.float32)
        qb[name] = np.clip(np.round(b[name].astype(np.float64) / sb[name].astype(np.float64)),
                           -2 ** 31, 2 ** 31 - 1).astype(np.int32)
    wd = {k: dequant(qw[k], sw[k], (-1,) + (1,) * (qw[k].ndim - 1)) for k in w}
    bd = {k: dequant(qb[k], sb[k], (-1,)) for k in w}

    def build(qdq):
        nodes, inits = [], []

        def q_dq_activation(t, consumers_dq_outputs=None, graph_output=False):
            """ORT's activation pair. Returns the name consumers read."""
            scale, zp = act[t]
            inits.append(numpy_helper.from_array(np.array(scale, dtype=np.float32), t + "_scale"))
            inits.append(numpy_helper.from_array(np.array(zp, dtype=np.uint8), t + "_zero_point"))
            q_in = t + "_QuantizeLinear_Input" if graph_output else t
            dq_out = t if graph_output else t + "_DequantizeLinear_Output"
            nodes.append(helper.make_node("QuantizeLinear", [q_in, t + "_scale", t + "_zero_point"],
                                          [t + "_QuantizeLinear_Output"], t + "_QuantizeLinear"))
            nodes.append(helper.make_node("DequantizeLinear",
                                          [t + "_QuantizeLinear_Output", t + "_scale", t + "_zero_point"],
                                          [dq_out], t + "_DequantizeLinear"))
            return dq_out

        def duplicate_dq(t, idx):
            """A second DequantizeLinear of the same QuantizeLinear output (optimize_qdq_model.py)."""
            out = f"{t}_DequantizeLinear_Output/qdq_utils_dup_{idx}"
            nodes.append(helper.make_node("DequantizeLinear",
                                          [t + "_QuantizeLinear_Output", t + "_scale", t + "_zero_point"],
                                          [out], f"{t}_DequantizeLinear/qdq_utils_dup_{idx}"))
            return out

        def weight(name):
            wn, bn = name + ".weight", name + ".bias"
            if not qdq:
                inits.append(numpy_helper.from_array(wd[name], wn))
                inits.append(numpy_helper.from_array(bd[name], bn))
                return wn, bn
            c = qw[name].shape[0]
            inits.append(numpy_helper.from_array(qw[name], wn + "_quantized"))
            inits.append(numpy_helper.from_array(sw[name], wn + "_scale"))
            inits.append(numpy_helper.from_array(np.zeros(c, dtype=np.int8), wn + "_zero_point"))
            nodes.append(helper.make_node(
                "DequantizeLinear", [wn + "_quantized", wn + "_scale", wn + "_zero_point"],
                [wn + "_DequantizeLinear_Output"], wn + "_DequantizeLinear", axis=0))
            inits.append(numpy_helper.from_array(qb[name], bn + "_quantized"))
            inits.append(numpy_helper.from_array(sb[name], bn + "_quantized_scale"))
            inits.append(numpy_helper.from_array(np.zeros(c, dtype=np.int32), bn + "_quantized_zero_point"))
            nodes.append(helper.make_node(
                "DequantizeLinear", [bn + "_quantized", bn + "_quantized_scale", bn + "_quantized_zero_point"],
                [bn], bn + "_DequantizeLinear", axis=0))
            return wn + "_DequantizeLinear_Output", bn

        def conv(name, x, y):
            wn, bn = weight(name)
            pads = layers[name][1]
            k = layers[name][0][2]
            nodes.append(helper.make_node("Conv", [x, wn, bn], [y], name, kernel_shape=[k, k],
                                          pads=[pads] * 4, strides=[1, 1]))

        a = lambda t: q_dq_activation(t) if qdq else t  # noqa: E731
        x = a("input")                      # Q reads the graph input; one DQ feeds two Convs
        conv("conv1", x, "relu1")           # Conv -> Relu with the Relu removed (ORT's default)
        r1 = a("relu1")                     # relu1 feeds conv2 and add1: one Q, two DQs
        r1_add = duplicate_dq("relu1", 0) if qdq else "relu1"
        conv("conv2", r1, "relu2")
        conv("conv3", a("relu2"), "conv3_out")
        conv("shortcut", x, "shortcut_out")
        nodes.append(helper.make_node("Add", [r1_add, a("conv3_out")], ["add1_out"], "add1"))
        nodes.append(helper.make_node("Add", [a("add1_out"), a("shortcut_out")], ["add2_out"], "add2"))
        nodes.append(helper.make_node("GlobalAveragePool", [a("add2_out")], ["pool_out"], "pool"))
        nodes.append(helper.make_node("Flatten", [a("pool_out")], ["flat_out"], "flatten", axis=1))
        wn, bn = weight("fc")
        gemm_out = "output_QuantizeLinear_Input" if qdq else "output"
        nodes.append(helper.make_node("Gemm", [a("flat_out"), wn, bn], [gemm_out], "fc", transB=1))
        if qdq:
            q_dq_activation("output", graph_output=True)  # graph output: DQ writes the output name

        graph = helper.make_graph(
            nodes, "ort_style_qdq" if qdq else "ort_style_float",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 16, 16])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", classes])],
            inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="qdebug make_foreign_qdq_models.py",
                              producer_version="ORT quantize_static QDQ layout" if qdq else "float")
        m.ir_version = 7
        onnx.checker.check_model(m)
        return m

    out = {}
    for name, qdq in (("ort_style_qdq_op13.onnx", True), ("ort_style_float_op13.onnx", False)):
        m = build(qdq)
        onnx.save(m, os.path.join(OUT, name))
        out[name] = m

    # the float file computes what the float network computes with the dequantized parameters
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(seed + 3000))
    with torch.no_grad():
        ref = forward(x, wd, bd, relu=False)["output"]
    print(f"ort_style: output {tuple(ref.shape)}, max |y| {ref.abs().max():.3g}; "
          + ", ".join(f"{k} s={act[k][0]:.4g} zp={act[k][1]}" for k in quantized))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    made = {}
    made.update(torch_fx_models())
    made.update(ort_style_models())
    for name, m in made.items():
        size = os.path.getsize(os.path.join(OUT, name))
        print(f"{name}: {size / 1024:.1f} KiB, {len(m.graph.node)} nodes: {histogram(m)}")


if __name__ == "__main__":
    sys.exit(main())
