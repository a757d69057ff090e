# Usage: /usr/bin/python3 bench/ort_ranges.py FLOAT.onnx ALL.onnx && node bench/ort/ranges.js ALL.onnx > RANGES.json
# Makes every node output a graph output, so ONNX Runtime reports the activation ranges (bench/ort/ranges.js,
# 4 seeded N(0,1) 1x3x224x224 inputs) that bench/make_ort_qdq.py calibrates with.
import onnx, sys
m = onnx.load(sys.argv[1])
g = m.graph
inits = {t.name for t in g.initializer}
names = [o for n in g.node for o in n.output if o and o not in inits]
existing = {o.name for o in g.output}
for nm in names:
    if nm not in existing:
        g.output.append(onnx.helper.make_tensor_value_info(nm, onnx.TensorProto.FLOAT, None))
onnx.save(m, sys.argv[2])
print(len(names))
