#!/usr/bin/python3
"""Writes the three case-study notebooks in notebooks/ (cells only, no outputs) from one template,
and publishes executed notebooks (--publish): a static PNG beside every interactive figure.

The notebooks are the tutorial of Horizon's precision debug tool, step by step, on the committed
case-study models: one template, three models, so a fix to a step reaches all three. Run from the
repository root; then execute them in place with the qdebug kernel to record their outputs:

    /usr/bin/python3 scripts/make_notebooks.py
    java -jar target/qdebug.jar kernel install --prefix target/jupyter --name qdebug
    JUPYTER_PATH=target/jupyter/share/jupyter jupyter nbconvert --to notebook --execute --inplace \\
        --ExecutePreprocessor.timeout=1800 notebooks/*.ipynb
    /usr/bin/python3 scripts/make_notebooks.py --publish notebooks/*.ipynb
    /usr/bin/python3 scripts/make_notebooks.py --closing notebooks/*.ipynb   # after editing CLOSING

Publishing draws every figure output (Plotly JSON) once more with the jar's plotly.js in headless
Chromium and stores the picture twice in that output: as image/png, and as an <img> inside the
figure's text/html that the live figure replaces when its script runs. A viewer without JavaScript
(GitHub, an untrusted notebook) shows the picture whichever of the two it picks; Jupyter, nbviewer
and nbconvert's HTML show the one interactive figure. Needs `chromium` (Debian package) and the
built jar (target/classes or target/qdebug.jar) for plotly.js.

Only the prose of the closing cells is per model (written after reading the executed numbers; the
cell above it prints the same numbers from the run). Needs only the Python standard library.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import struct
import zipfile
import zlib

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

INT4 = ("int4 weights (per channel)", "Calibrator.Options.defaults().weightType(QType.INT4)")
INT4_PER_TENSOR = ("int4 weights (per tensor)",
                   "Calibrator.Options.defaults().weightType(QType.INT4).perChannel(false)")

MODELS = [
    dict(
        stem="repvgg_b2_case_study",
        short="repvgg",
        file="repvgg_b2_deploy_fmnist_32x32.onnx",
        title="RepVGG-B2 (deploy form) on Fashion-MNIST",
        about=(
            "RepVGG-B2's depth profile (1, 4, 6, 16, 1 blocks) with its widths divided by 8, trained on "
            "Fashion-MNIST at 32x32 in its multi-branch training form and exported in **deploy form**: every "
            "block re-parameterized into one 3x3 convolution with bias, followed by ReLU. The deploy form is "
            "the one the tutorial's RepVGG-B2 loses accuracy in: the fused kernels carry the three branches' "
            "scales in one tensor."),
        hard=INT4,
        top_k=[1, 2, 5, 10, 20],
        diagnose_top=33,
    ),
    dict(
        stem="mobilevit_s_case_study",
        short="mobilevit",
        file="mobilevit_s_fmnist_64x64.onnx",
        title="MobileViT (S profile, scaled) on Fashion-MNIST",
        about=(
            "MobileViT with the S profile's structure (MobileNetV2 blocks, then MobileViT blocks whose "
            "transformer layers attend across patches), widths scaled down, trained on Fashion-MNIST at 64x64. "
            "The transformer parts add MatMul, Softmax and LayerNorm (decomposed into ReduceMean/Sub/Pow/Sqrt/"
            "Div at opset 13) to the convolutions: many more tensors to calibrate than a CNN of its size."),
        hard=INT4_PER_TENSOR,
        top_k=[1, 2, 3, 5, 10],
        diagnose_top=10,
    ),
    dict(
        stem="mnasnet_case_study",
        short="mnasnet",
        file="mnasnet1.0_fmnist_96x96.onnx",
        title="MnasNet 1.0 on Fashion-MNIST at 96x96",
        about=(
            "torchvision's `mnasnet1_0` (depth multiplier 1.0) with a one-channel stem, trained from scratch "
            "on Fashion-MNIST resized to 96x96. Inverted residual blocks with depthwise convolutions: the "
            "family whose per-tensor and low-bit weight quantization is known to be fragile."),
        hard=INT4,
        top_k=[1, 2, 5, 10, 20],
        diagnose_top=10,
    ),
]

CLOSING = {
    "repvgg_b2_case_study": """
**Reading the numbers.** int8 with Horizon's default calibration keeps 99.6% of the float top-1 of this
RepVGG-B2 (89.70% against 90.10% on these 2,000 images), within the tutorial's target: nothing to fix at 8 bits.
With int4 weights the model collapses to chance (9.75%, one class for everything). The cumulative curves say why:
with only the weights quantized the output cosine falls to about 0.2, with only the activations it stays at
0.9997, so the weights are the cause. But no single weight is: quantized alone, every node keeps an output cosine
above 0.995. The error is spread over the whole plain 3x3 stack and compounds layer after layer, with no residual
path to dilute it; the automatic search needs 23 of the 33 quantized nodes back in float to reach 99% of float.
The diagnosis names the cause node by node: in 23 of the 33 convolutions a few weights stand far out of their
channel (the worst at 23 times the channel's rms), so a 4-bit grid wide enough for them rounds the rest of the
channel to a handful of levels; 5 more are victims of upstream error. No free fix (per-channel clipping,
equalization, bias correction, other ranges) recovers that. int16 does, but only for many layers together: raised
one at a time, no single node moves the collapsed output (output cosine about 0.37 after the free fixes and the
sequential bias correction), so the greedy rounds keep almost none; the fallback then raises the nodes to int16 in
sensitivity order until top-1 is back, and undoes every raise the target does not need. The fixed model keeps
**no node in float** and 27 nodes in int16 (25 weight tensors, 13 activations), for 89.60% (99.45% of float),
against 23 nodes in float for the search (89.35%): more nodes touched, each at int16 rather than float, which an
accelerator runs at a fraction of float's cost. The honest conclusion is the tutorial's check made quantitative: when the ranking is flat
and the cause is outliers in every layer, the problem is the bit width, and the fix is wider weights (or
quantization-aware training), not a few exceptions.""",
    "mobilevit_s_case_study": """
**Reading the numbers.** int8 with Horizon's default calibration keeps 99.8% of the float top-1 of this MobileViT,
so 8 bits need no debugging. int4 per-tensor weights lose about 10% of it (79.00% against 87.70%). The cumulative
curves put the blame on the weights (weights-only ends near 0.965, activations-only at 0.9998), and the sensitivity
ranking points at one node far ahead of the others: the stem convolution (`/net/stem/stem.0/Conv`, output cosine
about 0.98 when quantized alone, against 0.998 and above for everything else). Its weight box plot shows why: a few
weights of its 8 filters reach about +-2, while half of the filters stay within +-0.4; one int4 scale for the whole
tensor (a step of about 2.16 / 7 = 0.31) leaves those filters one or two levels. The automatic search finds that
the top 3 nodes (the stem and the first two convolutions of the first MobileNetV2 block) in float bring top-1 back
to 87.35%, 99.6% of float. The diagnosis reads the same evidence and names it: per-tensor weights stretched by a few
channels (largest over median channel range 3.58, 27.8% of the stem's weights rounding to 0), and it calls the next
nine nodes victims of the stem's error (amplification, pointing upstream at it). Free fixes are enough: per-channel
weights for the stem (and two convolutions of the second stage), an MSE weight range for one convolution and a
cross-layer equalization of one pair bring top-1 to 87.20% (99.4% of float) with **no node left in float and none
in int16**, against three float nodes for the search. This is the tutorial's pattern: a few early, narrow layers
carry the error, and the fix is to give that one tensor a scale per channel, not to leave a block in float.""",
    "mnasnet_case_study": """
**Reading the numbers.** int8 with Horizon's default calibration keeps 99.9% of the float top-1 of this MnasNet,
so 8 bits need no debugging. int4 weights, even per channel, lose about 12% of it (76.15% against 86.65%). The
cumulative curves blame the weights (weights-only ends near 0.983, activations-only at 0.9998). The ranking has one
clear hot spot: the first depthwise 3x3 convolution (`/net/layers/layers.3/Conv`), whose 32 channels have only 9
weights each, then the stem (`layers.0`) and the first pointwise convolution (`layers.6`). Leaving that one
depthwise convolution in float recovers more than half of the loss (76.15% to 82.95%); after that the remaining error
is spread thinly over the inverted-residual blocks, and the automatic search needs 16 of the 66 quantized nodes in
float for 99% (86.00%, 99.3% of float). The diagnosis names a systematic output shift on `layers.3` and `layers.6`
and calls the seven nodes after them victims of upstream error. No free fix (bias correction, equalization, other
ranges, per-channel clipping) closes the gap on the whole model, but int16 does, for a few tensors (the depthwise
`layers.3`'s weights among them, the rest in the first inverted-residual stages): **seven nodes in int16 and
none in float**, for 85.85% (99.1% of float), against the
search's 16 nodes in float. A hot spot and a long tail: between RepVGG (no hot spot, fixed by wider weights
everywhere) and MobileViT (one hot spot, fixed by a scale per channel). The practical reading: keep the early
depthwise layers at more than 4 bits, and expect int4 weights elsewhere in this network to cost a point or two of top-1.""",
}


def md(cid, text):
    return dict(cell_type="markdown", id=cid, metadata={}, source=lines(text))


def code(cid, text):
    return dict(cell_type="code", id=cid, metadata={}, source=lines(text), execution_count=None, outputs=[])


def lines(text):
    text = text.strip("\n")
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def notebook(m):
    hard_label, hard_options = m["hard"]
    top_k = ", ".join(str(k) for k in m["top_k"])
    cells = [
        md("intro", f"""
# {m['title']}: why does quantization lose accuracy, and how to get it back

{m['about']}

This notebook walks the workflow of Horizon's precision debug tool (`horizon_nn.debug`) with qdebug, every
number computed here from the committed model (`data/models/{m['file']}`), its calibration set (100 training
images, Horizon's folder layout) and the Fashion-MNIST test set:

1. calibrate to int8 and compare top-1 with the float model;
2. if int8 loses (almost) nothing, say so and take a harder setting, **{hard_label}**, that does lose accuracy;
3. cumulative error curves: do the weights or the activations lose it?
4. per-node sensitivity: which nodes?
5. distributions and per-channel box plots of the most sensitive nodes;
6. partial quantization: top-1 with the top k sensitive nodes left in float;
7. the automatic search for the fewest nodes that bring top-1 back to 99% of float, and the deployable model;
8. beyond the tutorial: diagnose each sensitive node's cause, try the fixes, keep what works;
9. what the numbers show.

Cells print their progress while they run. The figures are Plotly figures, drawn offline (plotly.js is embedded
once, in the first figure's output); each also carries a static picture, which viewers without JavaScript (GitHub,
a notebook not yet trusted) show instead. Tables show numbers to 4 significant digits; the CSV files and the
`Table` values keep full precision."""),
        code("setup", f"""
Path root = Path.of(System.getenv().getOrDefault("QDEBUG_HOME", "..")).toAbsolutePath().normalize();
Path modelFile = root.resolve("data/models/{m['file']}");
Path calibrationDir = root.resolve("data/calibration");   // image/0.npy ... image/99.npy (uint8 [1,1,28,28])
Path testSet = root.resolve("data/fmnist_test");          // images.npy [10000,1,28,28] + labels.npy
Path out = root.resolve("target/notebooks/{m['short']}");        // the models this notebook writes
int EVAL = 2000;   // top-1 on the first 2,000 test images (balanced: about 200 per class)
int DATA = 16;     // calibration samples per analysis

OnnxModel model = OnnxModel.load(modelFile);
SampleSet calibration = SampleSet.open(calibrationDir, model.inputs());
System.out.println(modelFile.getFileName() + ": " + model.nodes().size() + " nodes, input " + model.inputs().get(0)
    + ", output " + model.outputs().get(0) + "; " + calibration.size() + " calibration samples");
Table ops = Table.create("operators", StringColumn.create("op", model.nodes().stream().map(n -> n.opType()).toList()));
ops.countBy("op").sortDescendingOn("Count").setName("operators of " + modelFile.getFileName())"""),
        md("s1", """
## 1. Calibrate to int8, compare with float

Horizon's `default` calibration: int8 weights per channel (max), int8 symmetric activations, and for the
activations the candidate method (max, percentile 99.995, KL, ...) whose calibrated model's output is closest
to the float model's on the first calibration samples."""),
        code("calibrate", """
Calibrator.Result int8Run = Calibrator.run(model, calibration, Calibrator.Options.defaults(), notebookProgress());
CalibratedModel int8 = int8Run.model();
int8.save(out.resolve("int8.onnx"));
System.out.println("kept " + int8Run.label() + ": " + int8.nodes().size() + " calibration nodes, written to "
    + root.relativize(out.resolve("int8.onnx")));
Table.create("default method: output cosine similarity of each candidate",
    StringColumn.create("method", int8Run.candidateCosines().keySet().stream().map(c -> c.label()).toList()),
    DoubleColumn.create("output-cosine-similarity",
        int8Run.candidateCosines().values().stream().mapToDouble(d -> d).toArray()))"""),
        code("int8acc", """
AccuracyTable.Result int8Acc = Debugger.of(int8, calibration).progress(notebookProgress())
    .accuracyTable(AccuracyTable.Options.of(testSet).evalNum(EVAL));
double floatTop1 = int8Acc.floatAccuracy();
double int8Top1 = int8Acc.calibratedAccuracy();
System.out.printf("int8 keeps %.2f%% of float top-1 (%.2f%% vs %.2f%%): %s%n", 100 * int8Top1 / floatTop1,
    100 * int8Top1, 100 * floatTop1,
    int8Top1 >= 0.99 * floatTop1 ? "within the tutorial's 99% target, nothing to fix" : "below the 99% target");
int8Acc.table()"""),
        md("s2", f"""
## 2. A harder setting: {hard_label}

When int8 keeps 99% of float there is nothing to debug, so the rest of the notebook quantizes the weights to
**{hard_label}** (activations stay int8, chosen by the same default method): the kind of setting an accelerator
with low-bit weight support tempts one into, and one that does lose accuracy on this model."""),
        code("hard", f"""
CalibratedModel hard = Calibrator.calibrate(model, calibration, {hard_options}, notebookProgress());
hard.save(out.resolve("hard.onnx"));
Debugger dbg = Debugger.of(hard, calibration).progress(notebookProgress());
AccuracyTable.Result hardAcc = dbg.accuracyTable(AccuracyTable.Options.of(testSet).evalNum(EVAL).floatAccuracy(floatTop1));
double hardTop1 = hardAcc.calibratedAccuracy();
System.out.printf("{hard_label}: top-1 %.2f%%, %.2f%% of float%n", 100 * hardTop1, 100 * hardTop1 / floatTop1);
hardAcc.table()"""),
        md("s3", """
## 3. Weights or activations? Cumulative error

Horizon's `plot_acc_error` with `quantize_node=['weight', 'activation']`: three test models (only the weights
quantized, only the activations, both), and for each the cosine similarity with the float model of every
normal node's output, in graph order. The curve that falls is the part that loses accuracy; the gap between
the curves shows whether the two errors add up."""),
        code("accerr", """
AccumulatedError.Result curves = dbg.plotAccError(AccumulatedError.Options.defaults().dataNum(DATA));
AccumulatedError.Plot threeCurves = curves.plots().get(0);
for (String c : threeCurves.curves()) {
    double[] v = threeCurves.curve(c);
    System.out.printf("%-28s cosine at the last node %.4f, lowest %.4f%n", c, v[v.length - 1],
        java.util.Arrays.stream(v).filter(x -> !Double.isNaN(x)).min().orElse(Double.NaN));
}
threeCurves.figure()"""),
        md("s4", """
## 4. Which nodes? Sensitivity of every node

Horizon's `get_sensitivity_of_nodes`: each normal node quantized alone (its input calibration nodes switched
on, everything else float), the graph output compared with the float model's. Most sensitive first; the
cosine similarity sorts, MSE and SQNR are beside it. The detail table adds, beyond Horizon, the mean over the
samples beside the worst sample and the 5th percentile."""),
        code("sens", """
NodeSensitivity.Result sens = dbg.getSensitivityOfNodes(NodeSensitivity.Options.defaults()
    .metrics(List.of(Metric.COSINE_SIMILARITY, Metric.MSE, Metric.SQNR)).dataNum(DATA));
List<String> ranking = sens.ranking();
display(sens.figure());
sens.table().first(12).setName("the 12 most sensitive of " + ranking.size() + " nodes")"""),
        code("sensdetail", """
sens.detail().first(8).removeColumns("calibration-nodes")   // the full table: sens.detail()"""),
        md("s5", """
## 5. Look at the most sensitive nodes

Horizon's `plot_distribution` for the calibration nodes of the most sensitive node: for a weight, the float
weights against their fake-quantized values (with their cosine similarity); for an activation, the histogram
of the tensor with the calibration threshold. Then `get_channelwise_data_distribution`: one box per channel,
which shows whether a few channels stretch the range the others must share."""),
        code("dist", """
String worst = ranking.get(0);
List<String> worstCalibrations = hard.calibrationsOf(worst).stream().map(c -> c.name()).toList();
System.out.println("most sensitive node: " + worst + ", quantized by " + worstCalibrations);
Distribution.Result dist = dbg.plotDistribution(Distribution.Options.defaults().nodes(worstCalibrations).dataNum(DATA));
for (Distribution.Plot p : dist.plots()) {
    display(p.figure());
}
dist.summary().selectColumns("node", "series", "values", "min", "max", "max-abs", "threshold", "cosine-similarity")"""),
        code("boxes", """
List<String> boxNodes = new ArrayList<>();
for (String n : ranking.subList(0, 2)) {
    hard.calibrationsOf(n).stream().map(c -> c.name()).filter(c -> !boxNodes.contains(c)).forEach(boxNodes::add);
}
ChannelwiseDistribution.Result boxes = dbg.getChannelwiseDataDistribution(
    ChannelwiseDistribution.Options.defaults().nodes(boxNodes).dataNum(DATA));
for (ChannelwiseDistribution.Boxes b : boxes.boxes()) {
    display(b.figure());
}
System.out.println(boxes.boxes().size() + " box plots: " + boxNodes);"""),
        md("s6", f"""
## 6. Partial quantization: leave the top k in float

The tutorial's table: top-1 of the quantized model with its k most sensitive nodes left in float (their input
calibration nodes switched off), for k = {top_k}, beside the float and fully quantized models. Before it, Horizon's
`sensitivity_analysis` curve: the output cosine similarity as the top nodes go back to float one by one (red),
and each node quantized alone (green)."""),
        code("sensanalysis", """
PartialQuantization.Result curve = dbg.sensitivityAnalysis(PartialQuantization.Options.defaults()
    .dataNum(DATA).sensitiveNodes(ranking.subList(0, Math.min(20, ranking.size()))));
curve.figure()"""),
        code("partial", f"""
AccuracyTable.Result partial = dbg.accuracyTable(AccuracyTable.Options.of(testSet)
    .topK({top_k}).sensitiveNodes(ranking).evalNum(EVAL).floatAccuracy(floatTop1));
display(partial.figure());
partial.table()"""),
        md("s7", """
## 7. The automatic search

The fewest most-sensitive nodes to leave in float so that top-1 reaches 99% of float: a galloping search over k
on the sensitivity ranking (k = 1, 2, 4, ... until one passes, then bisection; each evaluated k is a full accuracy
run), then the partially quantized model written as
standard QDQ ONNX. Reloading that file and evaluating it checks that the deployable model gives the number the
search reported."""),
        code("auto", """
AutoPartialQuantization.Result auto = dbg.autoPartialQuantization(AutoPartialQuantization.Options.defaults()
    .dataset(testSet).evalNum(EVAL).sensitiveNodes(ranking).floatAccuracy(floatTop1));
Path partialFile = out.resolve("partial.onnx");
auto.saveModel(partialFile);
System.out.println((auto.reached() ? "target reached" : "target NOT reached") + " with k = " + auto.k()
    + " of " + ranking.size() + " nodes in float: " + auto.chosenNodes());
display(auto.figure());
auto.summary()"""),
        code("reload", """
double partialTop1;
try (CalibratedModel reloaded = CalibratedModel.load(partialFile)) {
    SampleSet test = SampleSet.open(testSet, reloaded.floatModel().inputs());
    partialTop1 = Accuracy.top1(reloaded, test, reloaded.enabled(), EVAL, notebookProgress());
}
System.out.printf("%s: top-1 %.2f%% (the search said %.2f%%)%n", root.relativize(partialFile),
    100 * partialTop1, 100 * auto.values().get(auto.k()));"""),
        md("s8", """
## 8. Fix it: name the causes, try the fixes, keep what works

Leaving nodes in float costs speed on the accelerator. `diagnose` goes further than Horizon's tool: for each of
the most sensitive nodes it names the cause with its evidence (per-tensor weights stretched by a few channels,
weight outliers, activation clipping, long tails, one-sided activations, a systematic output shift, or error
carried in from upstream), tries the fixes on that node alone (per-channel weights, another range method, an
asymmetric grid, bias correction, cross-layer equalization, int16, float as the reference point), measures each
by output cosine and by top-1 on the first labeled images, ranks them by top-1 gain then output cosine gain, then
combines the winners greedily, re-measuring top-1 after each, until the target (99% of float) is reached: free
fixes first, then a sequential bias correction of every quantized convolution (each one's output shift measured
with everything upstream already quantized and corrected), then int16, then float. The fixed model is written as standard QDQ ONNX; reloading and evaluating it checks the number."""),
        code("diagnose", f"""
Diagnose.Result fix = dbg.diagnose(Diagnose.Options.defaults().top({m['diagnose_top']}).dataNum(DATA)
    .dataset(testSet).evalNum(EVAL).floatAccuracy(floatTop1).samples(0));
Path fixedFile = out.resolve("fixed.onnx");
fix.saveModel(fixedFile);
System.out.println((fix.reached() ? "target reached" : "target NOT reached") + ": " + fix.nodesInFloat()
    + " nodes left in float and " + fix.nodesInInt16() + " in int16 (the search above: " + auto.k() + " in float)");
display(fix.causeTable());
display(fix.summary());
fix.accuracy()"""),
        code("fixreload", """
double fixedTop1;
try (CalibratedModel reloaded = CalibratedModel.load(fixedFile)) {
    SampleSet test = SampleSet.open(testSet, reloaded.floatModel().inputs());
    fixedTop1 = Accuracy.top1(reloaded, test, reloaded.enabled(), EVAL, notebookProgress());
}
System.out.printf("%s: top-1 %.2f%% (diagnose said %.2f%%), %.2f%% of float%n", root.relativize(fixedFile),
    100 * fixedTop1, 100 * fix.metrics().get("fixed")[1], 100 * fixedTop1 / floatTop1);
fix.figure()"""),
        md("s9", """
## 9. What the numbers show

The journey in one table, from this run's numbers:"""),
        code("summary", f"""
String[] variant = {{"float", "int8 (default calibration)", "{hard_label}",
    "{hard_label}, top " + auto.k() + (auto.k() == 1 ? " node" : " nodes") + " in float",
    "{hard_label}, diagnosed and fixed: " + fix.nodesInFloat() + " in float, " + fix.nodesInInt16() + " in int16"}};
double[] top1 = {{floatTop1, int8Top1, hardTop1, partialTop1, fixedTop1}};
Table.create("{m['file']}: top-1 on " + EVAL + " test images",
    StringColumn.create("variant", variant),
    DoubleColumn.create("top-1", top1),
    DoubleColumn.create("percent-of-float",
        java.util.Arrays.stream(top1).map(t -> Math.round(10000 * t / floatTop1) / 100.0).toArray()))"""),
    ]
    closing = CLOSING[m["stem"]]
    if closing:
        cells.append(md("closing", closing))
    return dict(
        cells=cells,
        metadata=dict(
            kernelspec=dict(display_name="Java (qdebug)", language="java", name="qdebug"),
            language_info=dict(name="java")),
        nbformat=4,
        nbformat_minor=5,
    )


PLOTLY_MIME = "application/vnd.plotly.v1+json"
PLOTLY_RESOURCE = "dev/qdebug/viz/plotly-cartesian-2.35.3.min.js"
STATIC_CLASS = "qdebug-static"


def plotly_js():
    """plotly.js as the build put it into target/classes (or into the jar)."""
    f = os.path.join(ROOT, "target", "classes", PLOTLY_RESOURCE)
    if os.path.exists(f):
        with open(f, encoding="utf-8") as fh:
            return fh.read()
    jar = os.path.join(ROOT, "target", "qdebug.jar")
    if os.path.exists(jar):
        with zipfile.ZipFile(jar) as z:
            return z.read(PLOTLY_RESOURCE).decode("utf-8")
    sys.exit("make_notebooks.py: no plotly.js in target/: build first (mvn -q -B package -DskipTests)")


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("make_notebooks.py: --publish needs headless Chromium (Debian: apt-get install chromium)")


def render_pngs(figures, js):
    """PNG bytes of each Plotly figure (dicts with data and layout), drawn in one headless page."""
    if not figures:
        return []
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><script>" + js.replace("</script", "<\\/script")
            + "</script></head><body><pre id='out'></pre><script>\n"
            + "var figures = " + json.dumps(figures).replace("</", "<\\/") + ";\n"
            + """// the picture with at most 256 colours (its most frequent; a chart has few), each pixel its index
async function indexed(url) {
  var img = new Image();
  img.src = url;
  await img.decode();
  var w = img.width, h = img.height;
  var canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  var g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, h);
  g.drawImage(img, 0, 0);
  var d = g.getImageData(0, 0, w, h).data;
  var counts = new Map();
  for (var i = 0; i < d.length; i += 4) {
    var k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  var pal = Array.from(counts.entries()).sort(function (a, b) { return b[1] - a[1]; })
      .slice(0, 256).map(function (e) { return e[0]; });
  var near = new Map();
  pal.forEach(function (k, j) { near.set(k, j); });
  var idx = new Uint8Array(w * h);
  for (var p = 0, i = 0; i < d.length; i += 4, p++) {
    var k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
    var j = near.get(k);
    if (j === undefined) {
      var best = 1e9;
      for (var q = 0; q < pal.length; q++) {
        var c = pal[q];
        var dr = ((c >> 16) & 255) - d[i], dg = ((c >> 8) & 255) - d[i + 1], db = (c & 255) - d[i + 2];
        var e = dr * dr + dg * dg + db * db;
        if (e < best) { best = e; j = q; }
      }
      near.set(k, j);
    }
    idx[p] = j;
  }
  var bin = '';
  for (var i = 0; i < idx.length; i += 8192) {
    bin += String.fromCharCode.apply(null, idx.subarray(i, i + 8192));
  }
  return {w: w, h: h, palette: pal, pixels: btoa(bin)};
}
(async function () {
  var out = [];
  for (var i = 0; i < figures.length; i++) {
    var f = figures[i], l = f.layout || {};
    try {
      var url = await Plotly.toImage({data: f.data, layout: l},
          {format: 'png', width: l.width || 900, height: l.height || 520, scale: 1});
      out.push({png: url, indexed: await indexed(url)});
    } catch (e) { out.push({error: '' + e}); }
  }
  document.getElementById('out').textContent = JSON.stringify(out);
})();
</script></body></html>""")
    with tempfile.TemporaryDirectory() as tmp:
        html = os.path.join(tmp, "figures.html")
        with open(html, "w", encoding="utf-8") as fh:
            fh.write(page)
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--user-data-dir=" + os.path.join(tmp, "profile"),
               # virtual time runs ahead while the page waits (image decoding): a budget it cannot exhaust
               "--virtual-time-budget=%d" % 3600000, "--dump-dom", "file://" + html]
        # on a busy machine Chromium sometimes dumps the page before the figures are drawn (the
        # image decoding is not counted as pending work): try again, a few times
        for attempt in range(15):
            dom = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
            start = dom.find("<pre id=\"out\">")
            end = dom.find("</pre>", start)
            if start >= 0 and end >= 0 and end > start + len("<pre id=\"out\">"):
                break
        else:
            sys.exit("make_notebooks.py: headless Chromium drew no figures (15 tries)")
    text = dom[start + len("<pre id=\"out\">"):end]
    text = text.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    drawn = json.loads(text)
    pngs = []
    for i, u in enumerate(drawn):
        prefix = "data:image/png;base64,"
        if "error" in u or not u["png"].startswith(prefix):
            sys.exit("make_notebooks.py: figure %d did not draw: %s" % (i, str(u)[:200]))
        full = recompress_png(base64.b64decode(u["png"][len(prefix):]))
        small = indexed_png(u["indexed"])
        pngs.append(base64.b64encode(small if len(small) < len(full) else full).decode("ascii"))
    return pngs


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def indexed_png(x):
    """An 8-bit palette PNG from the page's indexed picture (a third of the RGBA PNG's size)."""
    w, h = x["w"], x["h"]
    pixels = base64.b64decode(x["pixels"])
    rows = b"".join(b"\x00" + pixels[r * w:(r + 1) * w] for r in range(h))
    palette = b"".join(struct.pack(">BBB", (c >> 16) & 255, (c >> 8) & 255, c & 255) for c in x["palette"])
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
            + png_chunk(b"PLTE", palette) + png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b""))


def recompress_png(data):
    """The same PNG with its pixel data deflated at level 9 (Chromium writes it fast, not small)."""
    sig, pos, chunks, idat = data[:8], 8, [], b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IDAT":
            idat += body
            if not any(k == b"IDAT" for k, _ in chunks):
                chunks.append((b"IDAT", None))
        else:
            chunks.append((kind, body))
    packed = zlib.compress(zlib.decompress(idat), 9)
    if len(packed) >= len(idat):
        return data
    return sig + b"".join(png_chunk(kind, packed if kind == b"IDAT" else body) for kind, body in chunks)


def html_text(v):
    return "".join(v) if isinstance(v, list) else v


def with_static(html, png_b64, title):
    """The figure's HTML with the picture inside its div (the script replaces it when it runs)."""
    html = re.sub('<img class="' + STATIC_CLASS + '"[^>]*/>', "", html)  # published before
    marker = 'class="qdebug-figure"'
    at = html.find(marker)
    if at < 0:
        return html
    close = html.index(">", at) + 1
    alt = re.sub("<[^>]*>", " ", title or "figure")
    alt = alt.replace("&", "&amp;").replace("\"", "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    img = ('<img class="%s" alt="%s" style="max-width:100%%" src="data:image/png;base64,%s"/>'
           % (STATIC_CLASS, alt, png_b64))
    return html[:close] + img + html[close:]


def publish(path):
    """Adds a static PNG to every figure output of the executed notebook at path, in place."""
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
               if PLOTLY_MIME in o.get("data", {})]
    figures = [o["data"][PLOTLY_MIME] for o in outputs]
    pngs = render_pngs(figures, plotly_js())
    for o, fig, png in zip(outputs, figures, pngs):
        title = ((fig.get("layout") or {}).get("title") or {})
        title = title.get("text") if isinstance(title, dict) else title
        o["data"]["image/png"] = png
        if "text/html" in o["data"]:
            o["data"]["text/html"] = with_static(html_text(o["data"]["text/html"]), png, title)
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(nb, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    os.replace(path + ".tmp", path)
    print("published %s: %d figures with static images, %.1f MB"
          % (os.path.relpath(path, ROOT), len(pngs), os.path.getsize(path) / 1e6))


def set_closing(path):
    """Replaces the closing prose of an executed notebook with CLOSING's (written after reading its numbers)."""
    stem = os.path.basename(path)[:-len(".ipynb")]
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    cell = next(c for c in nb["cells"] if c.get("id") == "closing")
    cell["source"] = lines(CLOSING[stem])
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("closing of", os.path.relpath(path, ROOT), "updated")


def main():
    if sys.argv[1:2] == ["--publish"]:
        for path in sys.argv[2:]:
            publish(path)
        return
    if sys.argv[1:2] == ["--closing"]:
        for path in sys.argv[2:]:
            set_closing(path)
        return
    os.makedirs(os.path.join(ROOT, "notebooks"), exist_ok=True)
    only = set(sys.argv[1:])
    for m in MODELS:
        if only and m["short"] not in only:
            continue
        path = os.path.join(ROOT, "notebooks", m["stem"] + ".ipynb")
        with open(path + ".tmp", "w") as f:
            json.dump(notebook(m), f, indent=1, ensure_ascii=False)
            f.write("\n")
        os.replace(path + ".tmp", path)
        print("wrote", os.path.relpath(path, ROOT))


if __name__ == "__main__":
    main()
