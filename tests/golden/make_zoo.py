#!/usr/bin/python3
# Exports torchvision's classification CNNs beyond the golden set (issue 10's list), and small
# conv + Upsample nets (PyTorch's Resize exports), with PyTorch's own eval-mode outputs, for
# tests/zoo/zoo_models_test.cpp. Not part of the build: run by the CTest fixture golden_zoo_generate
# (Debian torch 1.13 / torchvision 0.14 / onnx 1.12).
"""Model-zoo generator.

Usage:
    /usr/bin/python3 tests/golden/make_zoo.py --out DIR [--models resnet50,densenet121,...]

For each model it writes DIR/<model>/:
    model.onnx                      opset 13 (BatchNorm folded by the exporter), input "input"
                                    [batch, 3, S, S] (S = 299 for Inception-v3, else 224), output "logits"
    test_data_set_0/input_0.pb      f32 [1, 3, S, S]
    test_data_set_0/output_0.pb     f32 [1, 1000]: PyTorch's eval-mode output
    meta.json                       model, input shape, op histogram, versions

Random weights (seeded), BatchNorm statistics calibrated on a random batch (make_golden.py's
calibration, without its perturbation).
A case is skipped ("cached") when its meta.json is newer than this script and make_golden.py;
each case is written to a temporary directory and renamed into place (never partial).
"""
import argparse
import collections
import json
import os
import shutil
import sys
import time

import numpy as np
import onnx
import torch
import torchvision

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden  # noqa: E402  (shared: torch setup, BN randomization, export, tensor files)

ZOO_MODELS = ["resnet50", "resnext50_32x4d", "densenet121", "squeezenet1_1", "shufflenet_v2_x1_0", "mnasnet1_0",
              "efficientnet_b0", "efficientnet_v2_s", "regnet_x_400mf", "regnet_y_400mf", "convnext_tiny",
              "googlenet", "inception_v3", "alexnet"]
# Small conv + torch.nn.Upsample nets: PyTorch's own Resize exports (opset 13) in each mode hqp
# supports, input [1, 3, 7, 9].
UPSAMPLE_MODELS = {
    "upsample_bilinear": dict(scale_factor=2, mode="bilinear", align_corners=False),
    "upsample_bilinear_align_corners": dict(scale_factor=2, mode="bilinear", align_corners=True),
    "upsample_nearest": dict(scale_factor=2, mode="nearest"),
    "upsample_bilinear_sizes": dict(size=(11, 13), mode="bilinear", align_corners=False),
    "upsample_nearest_sizes": dict(size=(11, 13), mode="nearest"),
}
OPSET = 13


class ConvUpsample(torch.nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.up = torch.nn.Upsample(**kwargs)

    def forward(self, x):
        return self.up(self.conv(x))


def build(name):
    torch.manual_seed(make_golden.MODEL_SEED)
    if name in UPSAMPLE_MODELS:
        model = ConvUpsample(**UPSAMPLE_MODELS[name]).eval()
        x = torch.randn((1, 3, 7, 9), generator=torch.Generator().manual_seed(make_golden.INPUT_SEED))
        with torch.no_grad():
            y = model(x)
        return model, x, y
    kwargs = {"weights": None}
    if name in ("googlenet", "inception_v3"):
        kwargs.update(aux_logits=False, init_weights=True)
    model = getattr(torchvision.models, name)(**kwargs)
    size = 299 if name == "inception_v3" else 224
    shape = (3, size, size)
    calib = torch.randn((make_golden.CALIB_BATCH,) + shape, generator=torch.Generator().manual_seed(make_golden.CALIB_SEED))
    if make_golden.batchnorm_modules(model):
        # Calibrated, not perturbed: perturbed statistics compound over EfficientNetV2-S's 170 convs
        # into logits of ~1e3 whose float32 rounding alone (PyTorch f32 vs f64: 5e-4) exceeds the bar.
        make_golden.randomize_batchnorm(model, calib, perturb=False)
    model.eval()
    x = torch.randn((1,) + shape, generator=torch.Generator().manual_seed(make_golden.INPUT_SEED))
    with torch.no_grad():
        y = model(x)
    std = float(y.std())
    if not np.isfinite(std) or std <= 0:
        raise RuntimeError(f"cannot prepare model '{name}': logits std={std:g}")
    return model, x, y


def is_cached(case_dir):
    meta = os.path.join(case_dir, "meta.json")
    if not os.path.exists(meta):
        return False
    here = os.path.dirname(os.path.abspath(__file__))
    newest = max(os.path.getmtime(os.path.join(here, f)) for f in ("make_zoo.py", "make_golden.py"))
    return os.path.getmtime(meta) > newest


def make_case(name, out_dir):
    t0 = time.perf_counter()
    model, x, y = build(name)
    proto = make_golden.export_onnx(model, x, OPSET, preserve_bn=False)
    make_golden.set_metadata(proto, {"hqp.zoo": name, "hqp.generator": "tests/golden/make_zoo.py",
                                     "hqp.note": "random weights (seeded); BN stats calibrated"})
    onnx.checker.check_model(proto)
    hist = collections.Counter(n.op_type for n in proto.graph.node)
    case_dir = os.path.join(out_dir, name)
    tmp = os.path.join(out_dir, f".tmp-{name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "test_data_set_0"))
    with open(os.path.join(tmp, "model.onnx"), "wb") as f:
        f.write(proto.SerializeToString())
    make_golden.write_tensor_pb(os.path.join(tmp, "test_data_set_0", "input_0.pb"), x.numpy(), make_golden.INPUT_NAME)
    make_golden.write_tensor_pb(os.path.join(tmp, "test_data_set_0", "output_0.pb"), y.numpy(), make_golden.OUTPUT_NAME)
    meta = {"model": name, "opset": OPSET, "input_shape": list(x.shape), "output_shape": list(y.shape),
            "logits_std": round(float(y.std()), 6), "op_counts": dict(sorted(hist.items())),
            "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "onnx": onnx.__version__}}
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    shutil.rmtree(case_dir, ignore_errors=True)
    os.rename(tmp, case_dir)
    return time.perf_counter() - t0, hist


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(ZOO_MODELS + list(UPSAMPLE_MODELS)))
    args = ap.parse_args(argv)
    make_golden.setup_torch()
    os.makedirs(args.out, exist_ok=True)
    make_golden.remove_stale_temporaries(args.out)
    for name in [m for m in args.models.split(",") if m]:
        if is_cached(os.path.join(args.out, name)):
            print(f"{name}: cached")
            continue
        seconds, hist = make_case(name, args.out)
        print(f"{name}: written in {seconds:.1f}s; ops: " + ", ".join(f"{k} {v}" for k, v in sorted(hist.items())),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
