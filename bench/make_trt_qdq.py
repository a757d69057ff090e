# Usage: /usr/bin/python3 bench/make_trt_qdq.py FLOAT.onnx RANGES.json OUT.onnx  (RANGES.json from
#   bench/ort_ranges.py + bench/ort/ranges.js: the float model's activation ranges measured by ONNX Runtime)
# Benchmark helper, not the product. Writes the QDQ placement of NVIDIA's pytorch-quantization toolkit
# (TensorRT explicit quantization), as its quant_modules export a torchvision model:
#   - Q -> DQ on the *inputs* of Conv, Gemm, MaxPool, AveragePool and GlobalAveragePool (QuantConv2d,
#     QuantLinear, QuantMaxPool2d, QuantAvgPool2d, QuantAdaptiveAvgPool2d), s8 symmetric per tensor:
#     scale = amax / 127, zero point 0 (int8), amax = max |range|;
#   - weights stay float initializers followed by QuantizeLinear -> DequantizeLinear (s8 symmetric
#     per output channel, axis 0) — the toolkit exports fake-quantized weights, not int8 tensors;
#   - biases stay float; outputs of Conv / Relu / Add are not quantized (TensorRT fuses them);
#   - a residual Add quantizes its second input (the identity branch, the toolkit's ResNet
#     `residual_quantizer`), so the conv + add fusion forms.
# Graph outputs stay float.
import json, sys
import numpy as np, onnx
from onnx import helper, numpy_helper
m = onnx.load(sys.argv[1]); ranges = json.load(open(sys.argv[2])); g = m.graph
inits = {t.name: t for t in g.initializer}
for n in [n for n in g.node if n.op_type == "Identity" and n.input[0] in inits]:
    t = onnx.TensorProto(); t.CopyFrom(inits[n.input[0]]); t.name = n.output[0]
    g.initializer.append(t); inits[t.name] = t; g.node.remove(n)
const_outputs = {o for n in g.node if n.op_type == "Constant" for o in n.output}
new_inits, before = [], {}  # before[node name]: the Q/DQ nodes that must precede it
quantized = {}  # activation name -> its DQ output (one Q/DQ pair per tensor, shared by readers)


def act_qdq(name, at):
    if name in quantized: return quantized[name]
    lo, hi = ranges[name]; amax = max(abs(lo), abs(hi), 1e-8); s = np.float32(amax / 127.0)
    new_inits.append(numpy_helper.from_array(np.array(s, np.float32), name + "_trt_scale"))
    new_inits.append(numpy_helper.from_array(np.array(0, np.int8), name + "_trt_zp"))
    before.setdefault(at, []).extend([
        helper.make_node("QuantizeLinear", [name, name + "_trt_scale", name + "_trt_zp"], [name + "_trt_q"], name=name + "_trt_Q"),
        helper.make_node("DequantizeLinear", [name + "_trt_q", name + "_trt_scale", name + "_trt_zp"], [name + "_trt_dq"],
                         name=name + "_trt_DQ")])
    quantized[name] = name + "_trt_dq"
    return quantized[name]


def weight_qdq(name, at):
    if name in quantized: return quantized[name]  # a weight shared by two layers: one Q/DQ pair
    w = numpy_helper.to_array(inits[name]).astype(np.float32)
    ws = np.maximum(np.abs(w.reshape(w.shape[0], -1)).max(1) / 127.0, 1e-8).astype(np.float32)
    new_inits.extend([numpy_helper.from_array(ws, name + "_trt_wscale"),
                      numpy_helper.from_array(np.zeros(len(ws), np.int8), name + "_trt_wzp")])
    before.setdefault(at, []).extend([
        helper.make_node("QuantizeLinear", [name, name + "_trt_wscale", name + "_trt_wzp"], [name + "_trt_wq"], axis=0,
                         name=name + "_trt_WQ"),
        helper.make_node("DequantizeLinear", [name + "_trt_wq", name + "_trt_wscale", name + "_trt_wzp"], [name + "_trt_wdq"],
                         axis=0, name=name + "_trt_WDQ")])
    quantized[name] = name + "_trt_wdq"
    return quantized[name]


def is_activation(v): return v and v not in inits and v not in const_outputs and v in ranges


for i, n in enumerate(g.node):
    if not n.name: n.name = f"node_{i}"
    if n.op_type in ("Conv", "Gemm"):
        if is_activation(n.input[0]): n.input[0] = act_qdq(n.input[0], n.name)
        if n.input[1] in inits: n.input[1] = weight_qdq(n.input[1], n.name)
    elif n.op_type in ("MaxPool", "AveragePool", "GlobalAveragePool"):
        if is_activation(n.input[0]): n.input[0] = act_qdq(n.input[0], n.name)
    elif n.op_type == "Add" and all(is_activation(x) for x in n.input):
        n.input[1] = act_qdq(n.input[1], n.name)
ordered = []
for n in g.node:
    ordered += before.get(n.name, []); ordered.append(n)
del g.node[:]; g.node.extend(ordered); g.initializer.extend(new_inits)
onnx.checker.check_model(m, full_check=True)
onnx.save(m, sys.argv[3]); print("nodes", len(g.node), "quantized tensors", len(quantized))
