#!/usr/bin/python3
# Test fixture: a small CNN trained by PyTorch on real Fashion-MNIST, exported to ONNX, with
# PyTorch's own accuracy on a real test subset -- `hqp eval` must agree with it.
"""PyTorch-exported model + PyTorch's accuracy, for tests/cli (fixture `pytorch_eval`).

Usage:
    /usr/bin/python3 tests/golden/make_pytorch_eval.py --out DIR [--fashion-dir /usr/share/datasets/fashion-mnist]

Writes DIR/ (into a temporary directory renamed into place; skipped when DIR/expected.json is
newer than this script):
    model.onnx                       opset 13, input "input" [N,1,28,28], output "logits" [N,10]
                                     (BatchNorm in eval mode, folded by the exporter)
    data/t10k-images-idx3-ubyte      the first TEST_SAMPLES images of Fashion-MNIST's test set
    data/t10k-labels-idx1-ubyte      and their labels (real data, raw IDX)
    data/train-images-idx3-ubyte     the first TRAIN_SAMPLES training images the CNN was trained on
    data/train-labels-idx1-ubyte
    expected.json                    PyTorch's top1, top5, mean CE loss, per-class accuracy and
                                     per-sample predictions on data/ test, with MEAN/STD normalization

The CNN trains for one epoch on TRAIN_SAMPLES images (seconds on a CPU), so its accuracy is far
from chance and far from 100 %: a preprocessing or layout mismatch in hqp shows up as a different
accuracy. If the dataset package is missing it writes DIR/SKIPPED with the reason (the test
skips), so the suite still runs on a machine without dataset-fashion-mnist.
"""
import argparse
import gzip
import json
import os
import shutil
import struct
import sys
import tempfile

import numpy as np
import torch

TRAIN_SAMPLES = 4096
TEST_SAMPLES = 1000
MEAN, STD = 0.286, 0.353
SEED = 0


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return magic, dims, np.frombuffer(data[4 + 4 * rank:], dtype=np.uint8).reshape(dims)


def write_idx(path, magic, array):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def find(dir_, name):
    for ext in (".gz", ""):
        p = os.path.join(dir_, name + ext)
        if os.path.exists(p):
            return p
    return None


class SmallCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.features(x))


def normalize(images_u8):
    x = torch.from_numpy(images_u8.astype(np.float32) / np.float32(255.0)).unsqueeze(1)
    return (x - MEAN) / STD


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()

    expected = os.path.join(args.out, "expected.json")
    if os.path.exists(expected) and os.path.getmtime(expected) > os.path.getmtime(os.path.abspath(__file__)):
        print(f"cached: {args.out}")
        return

    files = {k: find(args.fashion_dir, k) for k in
             ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    parent = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".pytorch_eval-", dir=parent)
    try:
        if any(v is None for v in files.values()):
            missing = [k for k, v in files.items() if v is None]
            with open(os.path.join(tmp, "SKIPPED"), "w") as f:
                f.write(f"Fashion-MNIST not found in {args.fashion_dir} (missing {', '.join(missing)}; "
                        "install Debian's dataset-fashion-mnist)\n")
        else:
            build(files, tmp)
        if os.path.exists(args.out):
            shutil.rmtree(args.out)
        os.rename(tmp, args.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"wrote {args.out}")


def build(files, out):
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    m_img, _, train_x = read_idx(files["train-images-idx3-ubyte"])
    m_lab, _, train_y = read_idx(files["train-labels-idx1-ubyte"])
    _, _, test_x = read_idx(files["t10k-images-idx3-ubyte"])
    _, _, test_y = read_idx(files["t10k-labels-idx1-ubyte"])
    train_x, train_y = train_x[:TRAIN_SAMPLES], train_y[:TRAIN_SAMPLES]
    test_x, test_y = test_x[:TEST_SAMPLES], test_y[:TEST_SAMPLES]
    data = os.path.join(out, "data")
    os.makedirs(data)
    write_idx(os.path.join(data, "train-images-idx3-ubyte"), m_img, train_x)
    write_idx(os.path.join(data, "train-labels-idx1-ubyte"), m_lab, train_y)
    write_idx(os.path.join(data, "t10k-images-idx3-ubyte"), m_img, test_x)
    write_idx(os.path.join(data, "t10k-labels-idx1-ubyte"), m_lab, test_y)

    model = SmallCnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x_all, y_all = normalize(train_x), torch.from_numpy(train_y.astype(np.int64))
    model.train()
    perm = torch.randperm(TRAIN_SAMPLES)
    for b in range(TRAIN_SAMPLES // 64):
        idx = perm[b * 64:(b + 1) * 64]
        loss = torch.nn.functional.cross_entropy(model(x_all[idx]), y_all[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.eval()
    x, y = normalize(test_x), torch.from_numpy(test_y.astype(np.int64))
    with torch.no_grad():
        logits = model(x).double()
    loss = torch.nn.functional.cross_entropy(logits, y).item()
    pred = logits.argmax(1)
    top5 = logits.topk(5, 1).indices.eq(y.unsqueeze(1)).any(1)
    per_class = [float(pred[y == c].eq(c).double().mean()) for c in range(10)]
    # Samples whose best and second-best logits are within 1e-3: a float rounding
    # difference could flip are counted, so the test's allowance is derived, not guessed.
    top2 = logits.topk(2, 1).values
    near_ties = int((top2[:, 0] - top2[:, 1] < 1e-3).sum())

    torch.onnx.export(model, x[:2], os.path.join(out, "model.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    result = {
        "samples": TEST_SAMPLES, "mean": MEAN, "std": STD,
        "top1": float(pred.eq(y).double().mean()), "top5": float(top5.double().mean()), "loss": loss,
        "per_class": per_class, "near_ties": near_ties, "predictions": pred.tolist(),
        "torch": torch.__version__,
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"PyTorch: top1 {result['top1']:.4f} top5 {result['top5']:.4f} loss {loss:.4f} near ties {near_ties}")


if __name__ == "__main__":
    sys.exit(main())
