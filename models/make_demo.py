#!/usr/bin/python3
# Builds the tiny random-weight demo CNN (1x28x28 -> 10 classes) and its reference input/output.
# Not a trained model: a stand-in so the CLI and tests have a small file to run on.
"""Write models/demo/tiny_cnn.onnx, input_0.pb and output_0.pb.

Usage: /usr/bin/python3 models/make_demo.py [--out DIR]   (default: models/demo next to this file)

Architecture (input [N,1,28,28], output "logits" [N,10]):
    stem      Conv3x3(1->16) BN ReLU                                  28x28
    basic     Conv3x3 BN ReLU Conv3x3 BN, Add(identity), ReLU          28x28
    dw-sep    DWConv3x3/s2 BN HardSwish, SE, Conv1x1(16->32) BN HardSwish  14x14
              SE = GlobalAveragePool Conv1x1(16->8) ReLU Conv1x1(8->16) HardSigmoid Mul
    head      MaxPool2x2 (7x7), GlobalAveragePool, Flatten, Linear(32->10)
Exported at opset 17 with BatchNormalization kept (see make_golden.export_onnx).
"""
import argparse
import os
import sys

import numpy as np
import onnx
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep tests/golden free of __pycache__
sys.path.insert(0, os.path.join(HERE, "..", "tests", "golden"))
import make_golden  # noqa: E402
import onnx_numpy_ref  # noqa: E402

OPSET = 17
MODEL_SEED = 7
CALIB_SEED = 8
INPUT_SEED = 9
CALIB_BATCH = 16
INPUT_SHAPE = (1, 1, 28, 28)
NUM_CLASSES = 10
MAX_MODEL_BYTES = 200 * 1024
NOTE = "random-weight demo model; replaced by a trained model later"


def conv_bn(cin, cout, k, stride=1, groups=1):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(c, c, 3)
        self.conv2, self.bn2 = conv_bn(c, c, 3)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + x)


class SqueezeExcite(nn.Module):
    def __init__(self, c, squeeze):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        s = self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))
        return x * s


class DepthwiseSeparable(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.dw = nn.Sequential(*conv_bn(cin, cin, 3, stride, groups=cin), nn.Hardswish())
        self.se = SqueezeExcite(cin, cin // 2)
        self.pw = nn.Sequential(*conv_bn(cin, cout, 1), nn.Hardswish())

    def forward(self, x):
        return self.pw(self.se(self.dw(x)))


class TinyCnn(nn.Module):
    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(1, 16, 3), nn.ReLU())
        self.block = BasicBlock(16)
        self.dwsep = DepthwiseSeparable(16, 32, stride=2)
        self.maxpool = nn.MaxPool2d(2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.maxpool(self.dwsep(self.block(self.stem(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def write_atomic(path, data):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "demo"))
    args = ap.parse_args(argv)
    make_golden.setup_torch()

    torch.manual_seed(MODEL_SEED)
    model = TinyCnn()
    calib = torch.randn((CALIB_BATCH,) + INPUT_SHAPE[1:], generator=torch.Generator().manual_seed(CALIB_SEED))
    make_golden.randomize_batchnorm(model, calib)
    x = torch.randn(INPUT_SHAPE, generator=torch.Generator().manual_seed(INPUT_SEED))
    with torch.no_grad():
        y = model(x)

    proto = make_golden.export_onnx(model, x, OPSET, preserve_bn=True)
    make_golden.set_metadata(proto, {"hqp.note": NOTE})
    onnx.checker.check_model(proto, full_check=True)
    make_golden.check_batchnorm(proto, preserve_bn=True)
    make_golden.check_dynamic_batch(proto)
    x_np = x.numpy().astype(np.float32)
    y_np = y.numpy().astype(np.float32)
    err = make_golden.verify_with_numpy(proto, x_np, y_np)
    data = proto.SerializeToString()
    if len(data) > MAX_MODEL_BYTES:
        raise RuntimeError(f"demo model is {len(data)} bytes, expected <= {MAX_MODEL_BYTES}")

    os.makedirs(args.out, exist_ok=True)
    write_atomic(os.path.join(args.out, "tiny_cnn.onnx"), data)
    for name, arr, tensor_name in (("input_0.pb", x_np, make_golden.INPUT_NAME),
                                   ("output_0.pb", y_np, make_golden.OUTPUT_NAME)):
        tensor = onnx.numpy_helper.from_array(np.ascontiguousarray(arr), tensor_name)
        write_atomic(os.path.join(args.out, name), tensor.SerializeToString())

    hist = make_golden.op_histogram(proto)
    print(f"tiny_cnn.onnx: {len(data)} bytes, params={sum(p.numel() for p in model.parameters())}, "
          f"onnx_float_params={make_golden.float_initializer_elems(proto)}, "
          f"macs={make_golden.count_macs(model, INPUT_SHAPE)}, logits=[{', '.join(f'{v:.3f}' for v in y_np[0])}], "
          f"numpy max abs err={err:.2e}")
    print(make_golden.format_signatures(hist, make_golden.op_signatures(proto)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
