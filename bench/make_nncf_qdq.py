# Usage: /usr/bin/python3 bench/make_nncf_qdq.py FLOAT.onnx RANGES.json CHANNELS.json OUT.onnx
#   (RANGES.json and CHANNELS.json from bench/ort_ranges.py + `node bench/ort/ranges.js ALL.onnx SHAPE
#   CHANNELS.json`: the float model's per-tensor and per-channel activation ranges measured by ONNX Runtime)
# Benchmark helper, not the product. Writes the QDQ placement of NNCF's ONNX backend
# (`nncf.quantize(onnx_model, dataset)`, defaults: CPU hardware config, PERFORMANCE preset,
# compressed weights, FIRST_LAYER overflow fix; read from openvinotoolkit/nncf 3.2.0 sources:
# min_max/algorithm.py, onnx/graph/model_transformer.py, onnx/graph/passes.py, common/hardware/setups/cpu.py,
# onnx/hardware/fused_patterns.py, onnx/quantization/ignored_patterns.py), as it comes out for torchvision CNNs:
#   - quantizers sit on the activation *inputs* of Conv, Gemm / MatMul, Add, Mul (not the Mul of a
#     x * Sigmoid(x) / x * HardSigmoid(x) activation), GlobalAveragePool / AveragePool and Concat (one
#     scale shared by a Concat's inputs), and on the model input; a quantizer is moved up through
#     MaxPool / Reshape / Flatten / Transpose / Squeeze / Unsqueeze / Pad / Slice / Identity to their
#     producer, so e.g. ResNet's stem MaxPool reads a dequantized tensor and writes a float one;
#     one Q -> DQ pair per tensor, shared by every reader of that tensor;
#   - activations symmetric, zero point 0: u8 with scale max / 255 when the tensor is never negative,
#     else s8 with scale amax / 127 (q8_a); a depthwise conv's input, when no other quantized op reads
#     it, per channel (axis 1; scale and zero point of shape [C], one type for all channels);
#   - weights: an s8 initializer (narrow range [-127, 127]) -> DequantizeLinear (scale per output
#     channel: amax_c / 127, floored at 1 % of the largest channel's amax; zero point s8 0; axis 0
#     for Conv, -2 for a Gemm with transB=1, -1 for transB=0 / MatMul); the first convolution reading
#     the model input gets half-range weights (scale 2 * amax_c / 127: codes within [-64, 64]);
#   - squeeze-and-excitation: the two convolutions between the pooling and the gate and their inputs
#     stay float (the pooling's input and both inputs of the gating Mul are quantized);
#   - biases stay float; graph outputs stay float.
# Not reproduced: NNCF's MEAN_MINMAX statistics (ONNX Runtime's min/max over the 4 inputs instead) and
# FastBiasCorrection (changes bias values only).
import json, sys
import numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto

m = onnx.load(sys.argv[1]); ranges = json.load(open(sys.argv[2])); channel_ranges = json.load(open(sys.argv[3]))
g = m.graph
inits = {t.name: t for t in g.initializer}
for n in [n for n in g.node if n.op_type == "Identity" and n.input[0] in inits]:
    t = onnx.TensorProto(); t.CopyFrom(inits[n.input[0]]); t.name = n.output[0]
    g.initializer.append(t); inits[t.name] = t; g.node.remove(n)
for i, n in enumerate(g.node):
    if not n.name: n.name = f"node_{i}"
const_outputs = {o for n in g.node if n.op_type == "Constant" for o in n.output}
producer = {o: n for n in g.node for o in n.output}
readers = {}
for n in g.node:
    for i, v in enumerate(n.input):
        if v: readers.setdefault(v, []).append((n, i))
graph_inputs = [i.name for i in g.input if i.name not in inits]
graph_outputs = {o.name for o in g.output}


def is_activation(v): return bool(v) and v not in inits and v not in const_outputs


def attr(n, name, default):
    for a in n.attribute:
        if a.name == name: return helper.get_attribute_value(a)
    return default


def gate_of(mul):
    """For Mul(x, f(x)) with f Sigmoid / HardSigmoid: the activation node f, else None."""
    a, b = mul.input[0], mul.input[1]
    for x, y in ((a, b), (b, a)):
        p = producer.get(y)
        if p is not None and p.op_type in ("Sigmoid", "HardSigmoid") and p.input[0] == x: return p
    return None


activation_muls = {n.name for n in g.node if n.op_type == "Mul" and gate_of(n) is not None}


def single_reader(v):
    r = readers.get(v, [])
    return r[0][0] if len(r) == 1 else None


def after_activation(v):
    """The output of the activation applied to v (Relu / Clip / HardSwish / x*f(x)), or v."""
    r = readers.get(v, [])
    if len(r) == 1 and r[0][0].op_type in ("Relu", "Clip", "HardSwish", "LeakyRelu"): return r[0][0].output[0]
    muls = [n for n, _ in r if n.op_type == "Mul" and n.name in activation_muls]
    if len(muls) == 1 and all(n.op_type in ("Sigmoid", "HardSigmoid") or n is muls[0] for n, _ in r): return muls[0].output[0]
    return v


# Squeeze-and-excitation: pool -> conv -> act -> conv -> Sigmoid / HardSigmoid -> Mul(x, gate).
se_convs = set()
for pool in g.node:
    if pool.op_type not in ("GlobalAveragePool", "ReduceMean"): continue
    c1 = single_reader(pool.output[0])
    if c1 is None or c1.op_type != "Conv": continue
    c2 = single_reader(after_activation(c1.output[0]))
    if c2 is None or c2.op_type != "Conv": continue
    gate = single_reader(c2.output[0])
    if gate is None or gate.op_type not in ("Sigmoid", "HardSigmoid"): continue
    mul = single_reader(gate.output[0])
    if mul is None or mul.op_type != "Mul" or pool.input[0] not in mul.input: continue
    se_convs.update({c1.name, c2.name})

PASS_THROUGH = {"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Pad", "Slice", "Identity", "Dropout"}


def lift(v):
    """Where the quantizer of input edge v goes: up through pass-through ops to their producer."""
    while True:
        p = producer.get(v)
        if p is None or p.op_type not in PASS_THROUGH or not is_activation(p.input[0]): return v
        v = p.input[0]


# Quantized input edges: (node, input index) -> lifted tensor.
sites = {}
for n in g.node:
    idx = []
    if n.op_type == "Conv" and n.name not in se_convs: idx = [0]
    elif n.op_type in ("Gemm", "MatMul"): idx = [i for i in (0, 1) if is_activation(n.input[i])]
    elif n.op_type == "Add": idx = [i for i in (0, 1) if is_activation(n.input[i])]
    elif n.op_type == "Mul" and n.name not in activation_muls: idx = [i for i in (0, 1) if is_activation(n.input[i])]
    elif n.op_type in ("GlobalAveragePool", "AveragePool"): idx = [0]
    elif n.op_type == "Concat": idx = [i for i in range(len(n.input)) if is_activation(n.input[i])]
    for i in idx:
        sites[(n.name, i)] = lift(n.input[i])
quantized = {}  # tensor -> its readers' sites
for (nname, i), t in sites.items(): quantized.setdefault(t, []).append((nname, i))
nodes_by_name = {n.name: n for n in g.node}

# Concat: one scale for all inputs (the widest range).
unified = {}
for n in g.node:
    if n.op_type != "Concat": continue
    ts = [sites[(n.name, i)] for i in range(len(n.input)) if (n.name, i) in sites]
    lo = min(min(ranges[t][0], 0.0) for t in ts); hi = max(ranges[t][1] for t in ts)
    for t in ts: unified[t] = (lo, hi)

new_inits = []
before = {}  # node name -> Q / DQ nodes to insert before it; "" for the graph start
dq_of = {}
per_channel_tensors = set()


def depthwise(n):
    if n.op_type != "Conv": return False
    w = inits.get(n.input[1])
    return w is not None and attr(n, "group", 1) > 1 and attr(n, "group", 1) == w.dims[0] and w.dims[1] == 1


for t, uses in quantized.items():
    if t not in ranges: continue
    lo, hi = unified.get(t, ranges[t])
    signed = lo < 0
    per_channel = len(uses) == 1 and depthwise(nodes_by_name[uses[0][0]]) and t in channel_ranges and t not in unified
    if per_channel:
        clo, chi = (np.array(channel_ranges[t][0], np.float64), np.array(channel_ranges[t][1], np.float64))
        amax = np.maximum(np.abs(clo), np.abs(chi)) if signed else np.maximum(chi, 0.0)
        amax = np.maximum(amax, max(0.01 * amax.max(), 1e-6))
        scale = (amax / (127.0 if signed else 255.0)).astype(np.float32)
        zp = np.zeros(len(scale), np.int8 if signed else np.uint8)
        axis = {"axis": 1}
        per_channel_tensors.add(t)
    else:
        amax = max(abs(lo), abs(hi)) if signed else max(hi, 0.0)
        scale = np.array(max(amax, 1e-8) / (127.0 if signed else 255.0), np.float32)
        zp = np.array(0, np.int8 if signed else np.uint8)
        axis = {}
    sn, zn = f"scale_{t}_1", f"zero_point_{t}_1"
    new_inits += [numpy_helper.from_array(scale, sn), numpy_helper.from_array(zp, zn)]
    q = helper.make_node("QuantizeLinear", [t, sn, zn], [f"q_output_{t}_1"], name=f"QuantizeLinear_{t}_1", **axis)
    dq = helper.make_node("DequantizeLinear", [f"q_output_{t}_1", sn, zn], [f"dq_output_{t}_1"],
                          name=f"DequantizeLinear_{t}_1", **axis)
    at = producer[t].name if t in producer else ""
    before.setdefault(("after", at), []).extend([q, dq])
    dq_of[t] = f"dq_output_{t}_1"

# First layer: the convolutions whose input is (lifted to) the model input.
first_layer = {nname for t in graph_inputs for nname, _ in quantized.get(t, [])
               if nodes_by_name[nname].op_type == "Conv" and not depthwise(nodes_by_name[nname]) and attr(nodes_by_name[nname], "group", 1) == 1}

weight_dq = {}
for n in g.node:
    if n.op_type not in ("Conv", "Gemm", "MatMul") or n.name in se_convs: continue
    wname = n.input[1]
    if wname not in inits or wname in weight_dq: continue
    w = numpy_helper.to_array(inits[wname]).astype(np.float32)
    if n.op_type == "Conv": axis = 0
    elif n.op_type == "Gemm": axis = -2 if attr(n, "transB", 0) else -1
    else: axis = -1
    wc = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    amax = np.abs(wc).max(1).astype(np.float64)
    amax = np.maximum(amax, max(0.01 * amax.max(), 8e-5 * 127.0))
    ws = (amax / 127.0 * (2.0 if n.name in first_layer else 1.0)).astype(np.float32)
    shape = [1] * w.ndim; shape[axis] = -1
    wq = np.clip(np.round(w / ws.reshape(shape)), -127, 127).astype(np.int8)
    qn = f"q_output_{wname}_1"
    new_inits += [numpy_helper.from_array(wq, qn), numpy_helper.from_array(ws, f"scale_{wname}_1"),
                  numpy_helper.from_array(np.zeros(len(ws), np.int8), f"zero_point_{wname}_1")]
    before.setdefault(("before", n.name), []).append(
        helper.make_node("DequantizeLinear", [qn, f"scale_{wname}_1", f"zero_point_{wname}_1"], [f"dq_output_{wname}_1"],
                         name=f"DequantizeLinear_{wname}_1", axis=axis))
    weight_dq[wname] = f"dq_output_{wname}_1"

body = list(before.get(("after", ""), []))
for n in g.node:
    body += before.get(("before", n.name), [])
    for i, v in enumerate(n.input):
        if v in dq_of: n.input[i] = dq_of[v]
        elif v in weight_dq and i == 1: n.input[i] = weight_dq[v]
    body.append(n)
    body += before.get(("after", n.name), [])
# Graph outputs keep the float tensor (a quantized output's readers read the DQ; the output itself stays).
del g.node[:]; g.node.extend(body)
used = {v for n in g.node for v in n.input}
keep = [t for t in g.initializer if t.name in used or t.name in graph_outputs]
del g.initializer[:]; g.initializer.extend(keep + [t for t in new_inits if t.name in used])
for vi in [vi for vi in g.input if vi.name in inits and vi.name not in used]: g.input.remove(vi)
onnx.checker.check_model(m)
onnx.save(m, sys.argv[4])
print(f"{sys.argv[4]}: {len(dq_of)} activation Q/DQ pairs "
      f"({len(per_channel_tensors)} per channel), "
      f"{len(weight_dq)} weights, {len(se_convs)} SE convs float, first layer: {sorted(first_layer)}")
