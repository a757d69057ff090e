#!/usr/bin/python3
# Exports torchvision classifiers for the pruning tests (tests/prune/channel_groups_test.cpp): all 14
# of issue 10's list -- concat-heavy (GoogLeNet, SqueezeNet, DenseNet, Inception-v3), bottlenecks
# (ResNet-50), grouped convs (ResNeXt, RegNet), SiLU + SE (EfficientNet-B0 / V2-S, RegNetY), channel
# shuffle (ShuffleNetV2), channels-last MLPs (ConvNeXt), MNASNet, AlexNet. Random weights
# (Inception-v3's BatchNorm statistics calibrated), eval mode, batch-1 input of 64x64 (96 and 224
# where the architecture needs more; the groups do not depend on the resolution, the tests stay
# fast). Run by CTest (fixture `golden`); Debian's python3-torch / -torchvision / -onnx.
"""Usage: make_torchvision_zoo.py --out DIR [--models a,b,...]

Writes DIR/<model>/model.onnx (opset 13, BatchNorm folded, input "input" [batch,3,S,S], output
"logits" [batch,1000]) and DIR/<model>/meta.json. A model whose meta.json is newer than this script is kept
(cached). Each model is written to a temporary directory and renamed into place.
"""
import argparse
import json
import os
import shutil
import sys
import time
import warnings

import torch
import torchvision

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
import make_golden  # noqa: E402  (BatchNorm calibration)

MODELS = ["googlenet", "squeezenet1_1", "resnet50", "resnext50_32x4d", "efficientnet_b0", "regnet_y_400mf",
          "regnet_x_400mf", "densenet121", "shufflenet_v2_x1_0", "mnasnet1_0", "efficientnet_v2_s", "convnext_tiny",
          "inception_v3", "alexnet"]
OPSET = 13
INPUT = (1, 3, 64, 64)
# Models that need a larger input: Inception-v3's stem and reductions need >= 75 pixels; AlexNet's
# adaptive 6x6 pooling exports only from a feature map 6 divides (6x6 from 223-227 pixels).
INPUT_SIZE = {"inception_v3": 96, "alexnet": 224}
SEED = 1234
CALIB_BATCH = 32
CALIBRATE_BN = {"inception_v3"}


def build(name):
    torch.manual_seed(SEED)
    kwargs = {"weights": None}
    if name in ("googlenet", "inception_v3"):
        kwargs.update(aux_logits=False, init_weights=True)
    model = getattr(torchvision.models, name)(**kwargs)
    # Inception-v3 only: its BatchNorm statistics calibrated on a random batch (make_golden.py's,
    # unperturbed). With the default ones (mean 0, var 1) a random Inception-v3 gives logits of ~1e9
    # once BN is folded, and fine-tuning it (`hqp train --init`) diverges at once; 32 samples, as its
    # last blocks are 1x1 at 96 pixels and 4 samples' variance there still left logits of ~1e3. The
    # other models keep torchvision's default statistics: their logits stay small on any input,
    # while calibrated on N(0, 1) a deep SE net (EfficientNetV2-S) gives logits of ~1e3 on image-like
    # inputs and diverges in PyTorch and hqp alike.
    if name in CALIBRATE_BN and make_golden.batchnorm_modules(model):
        calib = torch.randn((CALIB_BATCH,) + input_shape(name)[1:],
                            generator=torch.Generator().manual_seed(make_golden.CALIB_SEED))
        with torch.no_grad():
            make_golden.randomize_batchnorm(model, calib, perturb=False)
    return model.eval()


def input_shape(name):
    size = INPUT_SIZE.get(name, INPUT[2])
    return (INPUT[0], INPUT[1], size, size)


def export(name, out_dir):
    final = os.path.join(out_dir, name)
    meta = os.path.join(final, "meta.json")
    if os.path.exists(meta) and os.path.getmtime(meta) > os.path.getmtime(os.path.abspath(__file__)):
        print(f"{name}: cached")
        return
    tmp = final + f".tmp.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    t0 = time.time()
    model = build(name)
    shape = input_shape(name)
    x = torch.randn(*shape)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, os.path.join(tmp, "model.onnx"), opset_version=OPSET, input_names=["input"],
                          output_names=["logits"], do_constant_folding=True,
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump({"model": name, "opset": OPSET, "input": list(shape), "seed": SEED,
                   "torch": torch.__version__, "torchvision": torchvision.__version__}, f, indent=1)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    print(f"{name}: exported in {time.time() - t0:.1f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(MODELS))
    a = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(a.out, exist_ok=True)
    for name in [m for m in a.models.split(",") if m]:
        export(name, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
