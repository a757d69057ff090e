#!/usr/bin/python3
# Generates golden ONNX models + PyTorch reference outputs for the hqp C++ tests.
# Not part of the build: run by hand (Debian torch 1.13 / torchvision 0.14 / onnx 1.12) and commit outputs.
"""Golden-model generator.

Usage:
    /usr/bin/python3 tests/golden/make_golden.py --out DIR \
        [--models resnet18,mobilenet_v2,mobilenet_v3_small,mobilenet_v3_large] [--opsets 13,17]

For each model x opset it writes DIR/<model>_op<opset>/:
    model.onnx                      exported model, input "input" [batch,3,224,224], output "logits"
    test_data_set_0/input_0.pb      onnx.TensorProto float32 [2,3,224,224]
    test_data_set_0/output_0.pb     onnx.TensorProto float32 [2,1000] (PyTorch eval-mode output)
    meta.json                       params, MACs, op histogram, attributes, shapes, versions

Export variants:
    opset 13: TrainingMode.EVAL (torch's default) -> BatchNorm folded into Conv (Conv gets a bias).
    opset 17: TrainingMode.PRESERVE with the model in eval mode -> BatchNormalization nodes stay,
              with training_mode=0 and a single output (inference semantics).

A case is skipped ("cached") when its meta.json is newer than this script. Each case is written to
a temporary directory and renamed into place, so an interrupted run never leaves a partial case.
"""
import argparse
import collections
import hashlib
import io
import json
import os
import re
import shutil
import sys
import time
import warnings

import numpy as np
import onnx
import torch
import torchvision
from onnx import helper, numpy_helper

sys.dont_write_bytecode = True  # keep tests/golden free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnx_numpy_ref  # noqa: E402

DEFAULT_MODELS = ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"]
DEFAULT_OPSETS = [13, 17]
MODEL_SEED = 1234           # torch.manual_seed before building each model
CALIB_SEED = 4321           # input used to calibrate BN running stats before they are perturbed
INPUT_SEED = 2024           # golden input batch
GOLDEN_BATCH = 2
CALIB_BATCH = 4
IMAGE_SHAPE = (3, 224, 224)
NUM_THREADS = 2
LOGITS_STD_RANGE = (0.1, 100.0)
# |onnx(numpy float64) - torch(float32)| allowed when cross-checking an export.
VERIFY_MAX_ABS_ERR = 1e-3

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
DYNAMIC_AXES = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}


def setup_torch():
    torch.set_num_threads(NUM_THREADS)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (e.g. imported twice)
        pass
    torch.use_deterministic_algorithms(True)


# --------------------------------------------------------------------------------------------
# Model preparation
# --------------------------------------------------------------------------------------------

def batchnorm_modules(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def randomize_batchnorm(model, calib_input, perturb=True):
    """Give every BatchNorm non-identity, well-scaled statistics and affine parameters.

    Independent random stats make deep nets explode or vanish (a random-weight MobileNetV2 with
    identity BN already gives logits of ~1e-9), so the stats are first calibrated: one train-mode
    forward over `calib_input` with momentum=None makes running_mean/var equal to the batch stats
    each layer actually sees. Then they are perturbed with the global torch RNG:
        running_mean += 0.2 * sqrt(running_var) * N(0,1)
        running_var  *= U(0.5, 2.0)              (stays positive)
        weight        = U(0.5, 1.5)
        bias          = 0.2 * N(0,1)
    perturb=False keeps the calibrated statistics (and the default affine parameters): every BN
    then normalizes what it sees, which keeps very deep random nets well conditioned.
    Leaves the model in eval mode.
    """
    bns = batchnorm_modules(model)
    saved_momentum = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: after one batch, running stats = batch stats
    model.train()
    model(calib_input)
    for bn, momentum in zip(bns, saved_momentum):
        bn.momentum = momentum
        if not perturb:
            continue
        c = bn.num_features
        bn.running_mean += 0.2 * bn.running_var.sqrt() * torch.randn(c)
        bn.running_var *= torch.empty(c).uniform_(0.5, 2.0)
        bn.weight.copy_(torch.empty(c).uniform_(0.5, 1.5))
        bn.bias.copy_(0.2 * torch.randn(c))
    model.eval()


def count_macs(model, input_shape):
    """Multiply-accumulates of Conv2d and Linear layers for one forward at `input_shape`.

    Conv2d: OC*OH*OW*(IC/groups)*KH*KW; Linear: in*out (per sample row). Other ops are not counted.
    """
    total = [0]

    def conv_hook(m, inp, out):
        oc, oh, ow = out.shape[1:]
        kh, kw = m.kernel_size
        total[0] += out.shape[0] * oc * oh * ow * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m, inp, out):
        rows = out.numel() // m.out_features
        total[0] += rows * m.in_features * m.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(input_shape))
    model.train(was_training)
    for h in handles:
        h.remove()
    return total[0]


# --------------------------------------------------------------------------------------------
# Export and ONNX inspection
# --------------------------------------------------------------------------------------------

def export_onnx(model, example_input, opset, preserve_bn):
    """Export an eval-mode `model`; returns the onnx.ModelProto.

    preserve_bn=False: TrainingMode.EVAL -> torch's eval peephole fuses BN into the preceding Conv.
    preserve_bn=True: TrainingMode.PRESERVE. With model.training == False this still exports
    inference semantics (BatchNormalization training_mode=0, one output) but skips the eval
    peephole pass, which is the only place torch 1.13 folds BN. torch warns that constant folding
    should be off "when the model is in training mode"; that does not apply here (constant folding
    never touches BN, whose input is not constant), so that one warning is silenced.
    """
    assert not model.training, "export_onnx expects a model in eval mode"
    mode = torch.onnx.TrainingMode.PRESERVE if preserve_bn else torch.onnx.TrainingMode.EVAL
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
        torch.onnx.export(
            model, example_input, buf,
            opset_version=opset,
            training=mode,
            do_constant_folding=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes=DYNAMIC_AXES,
        )
    assert not model.training, "export changed the model's training mode"
    return onnx.load_from_string(buf.getvalue())


def set_metadata(proto, props):
    """Replace/add metadata_props entries (key -> str(value))."""
    existing = {p.key: p for p in proto.metadata_props}
    for key, value in props.items():
        if key in existing:
            existing[key].value = str(value)
        else:
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, str(value)


def check_batchnorm(proto, preserve_bn):
    """Raise if BN nodes are missing/present against expectation or are not in inference form."""
    bns = [n for n in proto.graph.node if n.op_type == "BatchNormalization"]
    if not preserve_bn:
        if bns:
            raise RuntimeError(f"expected BN folded into Conv, found {len(bns)} BatchNormalization nodes")
        return
    if not bns:
        raise RuntimeError("expected BatchNormalization nodes to be preserved, found none")
    for n in bns:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if attrs.get("training_mode", 0) != 0 or len(n.output) != 1:
            raise RuntimeError(f"BatchNormalization '{n.name}' exported in training form "
                               f"(training_mode={attrs.get('training_mode')}, outputs={len(n.output)})")


def check_dynamic_batch(proto):
    for vi in list(proto.graph.input) + list(proto.graph.output):
        if vi.name not in DYNAMIC_AXES:
            continue
        dim0 = vi.type.tensor_type.shape.dim[0]
        if dim0.dim_param != "batch":
            raise RuntimeError(f"'{vi.name}' dim 0 is not the dynamic 'batch' axis: {dim0}")


def float_initializer_elems(proto):
    return sum(int(np.prod(t.dims)) for t in proto.graph.initializer
               if t.data_type == onnx.TensorProto.FLOAT)


def constant_float_elems(proto):
    total = 0
    for n in proto.graph.node:
        if n.op_type != "Constant":
            continue
        for a in n.attribute:
            if a.name == "value" and a.t.data_type == onnx.TensorProto.FLOAT:
                total += int(np.prod(a.t.dims))
    return total


def op_histogram(proto):
    counts = collections.Counter(n.op_type for n in proto.graph.node)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _attr_repr(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, onnx.TensorProto):
        arr = numpy_helper.to_array(value)
        return f"tensor<{onnx.TensorProto.DataType.Name(value.data_type)}{list(arr.shape)}>" + (
            f"={arr.item():g}" if arr.size == 1 else "")
    if isinstance(value, float):
        return float(f"{value:.7g}")
    if isinstance(value, list):
        return [_attr_repr(v) for v in value]
    return value


def op_signatures(proto):
    """Per op type: distinct values of each attribute, and the distinct input/output arities.

    Inputs are classified as 'x' (activation), 'init' (initializer) or 'const' (Constant output).
    """
    inits = {t.name for t in proto.graph.initializer}
    consts = {o for n in proto.graph.node if n.op_type == "Constant" for o in n.output}
    sig = collections.defaultdict(lambda: {"attrs": collections.defaultdict(set), "inputs": set()})
    for n in proto.graph.node:
        s = sig[n.op_type]
        for a in n.attribute:
            s["attrs"][a.name].add(json.dumps(_attr_repr(helper.get_attribute_value(a))))
        kinds = ["init" if i in inits else "const" if i in consts else "x" if i else "-" for i in n.input]
        s["inputs"].add(f"({','.join(kinds)})->{len(n.output)}")
    out = {}
    for op in sorted(sig):
        out[op] = {
            "attrs": {k: [json.loads(v) for v in sorted(vs)] for k, vs in sorted(sig[op]["attrs"].items())},
            "inputs": sorted(sig[op]["inputs"]),
        }
    return out


def format_signatures(hist, sigs, indent="    "):
    lines = []
    for op, count in hist.items():
        s = sigs[op]
        attrs = "; ".join(f"{k}={v if len(v) > 1 else v[0]}" for k, v in s["attrs"].items())
        lines.append(f"{indent}{op:<20} x{count:<4} in={' '.join(s['inputs'])}" + (f"  {attrs}" if attrs else ""))
    return "\n".join(lines)


def write_tensor_pb(path, array, name):
    tensor = numpy_helper.from_array(np.ascontiguousarray(array), name)
    with open(path, "wb") as f:
        f.write(tensor.SerializeToString())


def verify_with_numpy(proto, x, expected):
    got = onnx_numpy_ref.run(proto, {INPUT_NAME: x})[OUTPUT_NAME]
    err = float(np.max(np.abs(got - expected.astype(np.float64))))
    if not err <= VERIFY_MAX_ABS_ERR:
        raise RuntimeError(f"numpy evaluation of the export disagrees with torch (max abs err {err:g}, "
                           f"expected <= {VERIFY_MAX_ABS_ERR:g})")
    return err


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

class PreparedModel:
    """A torchvision model with randomized BN, its golden input/output and counts (built once)."""

    def __init__(self, name):
        t0 = time.perf_counter()
        self.name = name
        torch.manual_seed(MODEL_SEED)
        self.model = getattr(torchvision.models, name)(weights=None)
        calib = torch.randn((CALIB_BATCH,) + IMAGE_SHAPE, generator=torch.Generator().manual_seed(CALIB_SEED))
        randomize_batchnorm(self.model, calib)
        self.input = torch.randn((GOLDEN_BATCH,) + IMAGE_SHAPE, generator=torch.Generator().manual_seed(INPUT_SEED))
        with torch.no_grad():
            self.output = self.model(self.input)
        std = float(self.output.std())
        if not (np.isfinite(std) and LOGITS_STD_RANGE[0] <= std <= LOGITS_STD_RANGE[1]):
            raise RuntimeError(f"cannot prepare model '{name}': logits std={std:g}, expected in {LOGITS_STD_RANGE}")
        self.logits_std = std
        self.params = sum(p.numel() for p in self.model.parameters())
        self.macs = count_macs(self.model, (1,) + IMAGE_SHAPE)
        self.prepare_s = time.perf_counter() - t0


def make_case(prepared, opset, case_dir, verify):
    preserve_bn = opset >= 17
    t0 = time.perf_counter()
    proto = export_onnx(prepared.model, prepared.input, opset, preserve_bn)
    t_export = time.perf_counter() - t0
    set_metadata(proto, {
        "hqp.golden": prepared.name,
        "hqp.opset": opset,
        "hqp.batchnorm": "preserved" if preserve_bn else "folded",
        "hqp.generator": "tests/golden/make_golden.py",
        "hqp.versions": f"torch {torch.__version__}, torchvision {torchvision.__version__}, onnx {onnx.__version__}",
        "hqp.note": "random weights (seeded); BN stats calibrated then perturbed",
    })
    onnx.checker.check_model(proto, full_check=True)
    check_batchnorm(proto, preserve_bn)
    check_dynamic_batch(proto)

    x = prepared.input.numpy().astype(np.float32)
    y = prepared.output.numpy().astype(np.float32)
    err = verify_with_numpy(proto, x, y) if verify else None

    hist = op_histogram(proto)
    sigs = op_signatures(proto)
    model_bytes = proto.SerializeToString()
    meta = {
        "model": prepared.name,
        "opset": opset,
        "batchnorm": "preserved" if preserve_bn else "folded",
        "torchvision_params": prepared.params,
        "onnx_float_params": float_initializer_elems(proto),
        "onnx_constant_float_elems": constant_float_elems(proto),
        "macs": prepared.macs,
        "op_counts": hist,
        "op_signatures": sigs,
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "logits_std": round(prepared.logits_std, 6),
        "numpy_ref_max_abs_err": err,
        "seeds": {"model": MODEL_SEED, "calib": CALIB_SEED, "input": INPUT_SEED},
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "onnx": onnx.__version__},
        "model_sha256": hashlib.sha256(model_bytes).hexdigest(),
        "model_bytes": len(model_bytes),
    }

    parent = os.path.dirname(case_dir)
    tmp = os.path.join(parent, f".tmp-{os.path.basename(case_dir)}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "test_data_set_0"))
    with open(os.path.join(tmp, "model.onnx"), "wb") as f:
        f.write(model_bytes)
    write_tensor_pb(os.path.join(tmp, "test_data_set_0", "input_0.pb"), x, INPUT_NAME)
    write_tensor_pb(os.path.join(tmp, "test_data_set_0", "output_0.pb"), y, OUTPUT_NAME)
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    old = None
    if os.path.exists(case_dir):
        old = os.path.join(parent, f".old-{os.path.basename(case_dir)}-{os.getpid()}")
        os.rename(case_dir, old)
    os.rename(tmp, case_dir)
    if old:
        shutil.rmtree(old)
    return meta, t_export, time.perf_counter() - t0


def remove_stale_temporaries(out_dir):
    """Remove .tmp-/.old- case directories left by an interrupted run (their pid is gone)."""
    for entry in os.listdir(out_dir):
        m = re.fullmatch(r"\.(tmp|old)-.+-(\d+)", entry)
        if not m:
            continue
        pid = int(m.group(2))
        try:
            os.kill(pid, 0)
            alive = pid != os.getpid()
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if not alive:
            shutil.rmtree(os.path.join(out_dir, entry), ignore_errors=True)


def is_cached(case_dir):
    meta = os.path.join(case_dir, "meta.json")
    return os.path.exists(meta) and os.path.getmtime(meta) > os.path.getmtime(os.path.abspath(__file__))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--opsets", default=",".join(map(str, DEFAULT_OPSETS)))
    ap.add_argument("--no-verify", action="store_true", help="skip the numpy cross-check of each export")
    args = ap.parse_args(argv)

    setup_torch()
    models = [m for m in args.models.split(",") if m]
    opsets = [int(o) for o in args.opsets.split(",") if o]
    os.makedirs(args.out, exist_ok=True)
    remove_stale_temporaries(args.out)
    t_start = time.perf_counter()
    for name in models:
        prepared = None
        for opset in opsets:
            case = f"{name}_op{opset}"
            case_dir = os.path.join(args.out, case)
            if is_cached(case_dir):
                print(f"{case}: cached")
                continue
            if prepared is None:
                prepared = PreparedModel(name)
                print(f"{name}: prepared in {prepared.prepare_s:.2f}s (params={prepared.params}, "
                      f"macs={prepared.macs}, logits std={prepared.logits_std:.3f})")
            meta, t_export, t_case = make_case(prepared, opset, case_dir, not args.no_verify)
            err = meta["numpy_ref_max_abs_err"]
            print(f"{case}: written in {t_case:.2f}s (export {t_export:.2f}s), "
                  f"onnx_float_params={meta['onnx_float_params']}, "
                  f"onnx_constant_float_elems={meta['onnx_constant_float_elems']}, "
                  f"{meta['model_bytes']} bytes" + (f", numpy max abs err={err:.2e}" if err is not None else ""))
            print(format_signatures(meta["op_counts"], meta["op_signatures"]))
    print(f"total {time.perf_counter() - t_start:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
