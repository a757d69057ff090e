# Minimal NumPy evaluator for the ONNX ops that torch 1.13 emits for the golden CNNs.
# Used only to cross-check exported golden models (no onnxruntime here); it is not the hqp runtime.
"""Evaluate an onnx.ModelProto with NumPy, in float64, for verification.

Supported ops: Conv, BatchNormalization (inference), Relu, Clip, Add, Mul, HardSigmoid, HardSwish,
GlobalAveragePool, MaxPool, Flatten, Gemm, Identity, Constant. Any other op raises ValueError so
a new op in an export is noticed rather than silently mis-evaluated.
"""
import numpy as np
from onnx import numpy_helper


def _attrs(node):
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _pad_nchw(x, pads, value):
    # pads: [top, left, bottom, right] (ONNX order x1_begin, x2_begin, x1_end, x2_end)
    t, l, b, r = pads
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def _windows(x, kh, kw, sh, sw, dh, dw):
    # x: [N, C, H, W] (already padded) -> [N, C, OH, OW, KH, KW]
    n, c, h, w = x.shape
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    s = x.strides
    return np.lib.stride_tricks.as_strided(
        x, shape=(n, c, oh, ow, kh, kw),
        strides=(s[0], s[1], s[2] * sh, s[3] * sw, s[2] * dh, s[3] * dw), writeable=False)


def _conv(x, w, b, a):
    # x: [N, C, H, W]; w: [OC, C/G, KH, KW]; b: [OC] or None
    g = a.get("group", 1)
    kh, kw = w.shape[2:]
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ValueError("Conv auto_pad not supported by the numpy reference")
    xp = np.ascontiguousarray(_pad_nchw(x, a.get("pads", [0, 0, 0, 0]), 0.0))
    win = _windows(xp, kh, kw, sh, sw, dh, dw)
    n, c, oh, ow = win.shape[:4]
    oc = w.shape[0]
    if g == 1:
        y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # [N, OH, OW, OC]
        y = y.transpose(0, 3, 1, 2)
    elif g == c and oc == c:  # depthwise, multiplier 1
        y = np.einsum("nchwij,cij->nchw", win, w[:, 0])
    else:
        cg, ocg = c // g, oc // g
        wg = win.reshape(n, g, cg, oh, ow, kh, kw)
        wt = w.reshape(g, ocg, cg, kh, kw)
        y = np.einsum("ngchwij,gocij->ngohw", wg, wt).reshape(n, oc, oh, ow)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def _maxpool(x, a):
    if a.get("ceil_mode", 0) != 0 or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ValueError("MaxPool ceil_mode/auto_pad not supported by the numpy reference")
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    xp = np.ascontiguousarray(_pad_nchw(x, a.get("pads", [0, 0, 0, 0]), -np.inf))
    return _windows(xp, kh, kw, sh, sw, dh, dw).max(axis=(4, 5))


def run(model, feeds):
    """Run `model` on `feeds` (name -> ndarray); returns dict of graph outputs (float64)."""
    env = {}
    for init in model.graph.initializer:
        env[init.name] = numpy_helper.to_array(init).astype(np.float64)
    for k, v in feeds.items():
        env[k] = np.asarray(v, dtype=np.float64)
    for node in model.graph.node:
        a = _attrs(node)
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Constant":
            y = numpy_helper.to_array(a["value"]).astype(np.float64)
        elif op == "Identity":
            y = ins[0]
        elif op == "Conv":
            y = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif op == "BatchNormalization":
            if a.get("training_mode", 0) != 0 or len(node.output) != 1:
                raise ValueError(f"BatchNormalization '{node.name}' is in training mode")
            x, scale, bias, mean, var = ins
            eps = a.get("epsilon", 1e-5)
            sh = (1, -1, 1, 1)
            y = (x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * scale.reshape(sh) + bias.reshape(sh)
        elif op == "Relu":
            y = np.maximum(ins[0], 0.0)
        elif op == "Clip":
            lo = ins[1] if len(ins) > 1 and ins[1] is not None else -np.inf
            hi = ins[2] if len(ins) > 2 and ins[2] is not None else np.inf
            y = np.clip(ins[0], lo, hi)
        elif op == "Add":
            y = ins[0] + ins[1]
        elif op == "Mul":
            y = ins[0] * ins[1]
        elif op == "HardSigmoid":
            y = np.clip(a.get("alpha", 0.2) * ins[0] + a.get("beta", 0.5), 0.0, 1.0)
        elif op == "HardSwish":
            y = ins[0] * np.clip(ins[0] / 6.0 + 0.5, 0.0, 1.0)
        elif op == "GlobalAveragePool":
            y = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op == "MaxPool":
            y = _maxpool(ins[0], a)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Gemm":
            A = ins[0].T if a.get("transA", 0) else ins[0]
            B = ins[1].T if a.get("transB", 0) else ins[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        else:
            raise ValueError(f"op '{op}' (node '{node.name}') not supported by the numpy reference")
        env[node.output[0]] = y
    return {o.name: env[o.name] for o in model.graph.output}
