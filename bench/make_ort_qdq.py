# Usage: /usr/bin/python3 bench/make_ort_qdq.py FLOAT.onnx RANGES.json OUT.onnx  (RANGES.json from
#   bench/ort_ranges.py + bench/ort/ranges.js: the float model's activation ranges measured by ONNX Runtime)
# Benchmark helper, not the product. Writes ONNX Runtime's QDQ placement (quantize_static, QuantFormat.QDQ style): Q->DQ on every activation
# (u8 asymmetric per tensor, ranges from ranges.json), weights s8 symmetric per output channel via
# DequantizeLinear(axis 0), biases s32 (scale x_scale * w_scale) via DequantizeLinear. Graph output stays float.
import json, sys
import numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
m = onnx.load(sys.argv[1]); ranges = json.load(open(sys.argv[2])); g = m.graph
inits = {t.name: t for t in g.initializer}
# Identity of an initializer (PyTorch's export shares equal tensors that way): a copy of it instead.
for n in [n for n in g.node if n.op_type == "Identity" and n.input[0] in inits]:
    t = onnx.TensorProto(); t.CopyFrom(inits[n.input[0]]); t.name = n.output[0]
    g.initializer.append(t); inits[t.name] = t; g.node.remove(n)
outputs = {o.name for o in g.output}
new_nodes, new_inits = [], []
def qparams(name):
    lo, hi = ranges[name]; lo = min(lo, 0.0); hi = max(hi, 0.0)
    s = max((hi - lo) / 255.0, 1e-8); zp = int(np.clip(round(-lo / s), 0, 255)); return np.float32(s), np.uint8(zp)
act_scale = {}
def qdq(name):
    s, zp = qparams(name); act_scale[name] = s
    new_inits.append(numpy_helper.from_array(np.array(s, np.float32), name + "_scale"))
    new_inits.append(numpy_helper.from_array(np.array(zp, np.uint8), name + "_zp"))
    new_nodes.append(helper.make_node("QuantizeLinear", [name, name + "_scale", name + "_zp"], [name + "_q"], name=name + "_Q"))
    new_nodes.append(helper.make_node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zp"], [name + "_dq"], name=name + "_DQ"))
    return name + "_dq"
# Outputs of Constant nodes (Clip bounds, shapes) are not activations: ONNX Runtime leaves them float.
acts = [i.name for i in g.input] + [o for n in g.node if n.op_type != "Constant" for o in n.output]
rename = {a: qdq(a) for a in acts if a not in outputs and a in ranges}
body = []
for n in g.node:
    ins = list(n.input)
    if n.op_type in ("Conv", "Gemm"):
        x = ins[0]; xs = act_scale[x]
        w = numpy_helper.to_array(inits[ins[1]]).astype(np.float32)
        ws = np.maximum(np.abs(w.reshape(w.shape[0], -1)).max(1) / 127.0, 1e-8).astype(np.float32)
        wq = np.clip(np.round(w / ws.reshape((-1,) + (1,) * (w.ndim - 1))), -127, 127).astype(np.int8)
        wn = ins[1] + "_s8"
        new_inits += [numpy_helper.from_array(wq, wn), numpy_helper.from_array(ws, wn + "_scale"),
                      numpy_helper.from_array(np.zeros(len(ws), np.int8), wn + "_zp")]
        new_nodes.append(helper.make_node("DequantizeLinear", [wn, wn + "_scale", wn + "_zp"], [wn + "_dq"], axis=0, name=wn + "_DQ"))
        ins[1] = wn + "_dq"
        if len(ins) > 2 and ins[2]:
            b = numpy_helper.to_array(inits[ins[2]]).astype(np.float32); bs = (xs * ws).astype(np.float32)
            bq = np.round(b / bs).astype(np.int32); bn = ins[2] + "_s32"
            new_inits += [numpy_helper.from_array(bq, bn), numpy_helper.from_array(bs, bn + "_scale"),
                          numpy_helper.from_array(np.zeros(len(bs), np.int32), bn + "_zp")]
            new_nodes.append(helper.make_node("DequantizeLinear", [bn, bn + "_scale", bn + "_zp"], [bn + "_dq"], axis=0, name=bn + "_DQ"))
            ins[2] = bn + "_dq"
    ins = [rename.get(i, i) for i in ins]
    del n.input[:]; n.input.extend(ins); body.append(n)
del g.node[:]
# order: each Q/DQ right after its producer; simplest valid order: inputs' QDQ, weights' DQ, then nodes with their output QDQ
qdq_of = {}
for q in new_nodes:
    qdq_of.setdefault(q.name.rsplit("_", 1)[0], []).append(q)
ordered = [q for q in new_nodes if q.op_type == "DequantizeLinear" and q.name.endswith(("_s8_DQ", "_s32_DQ"))]
for i in g.input: ordered += qdq_of.get(i.name, [])
for n in body:
    ordered.append(n)
    for o in n.output: ordered += qdq_of.get(o, [])
g.node.extend(ordered)
g.initializer.extend(new_inits)
onnx.checker.check_model(m, full_check=True)
onnx.save(m, sys.argv[3]); print("nodes", len(g.node))
