#!/usr/bin/python3
# Test fixture: group Fisher and Taylor channel scores of a small CNN computed by PyTorch with
# explicit masks -- hqp's probes + GroupGradientAccumulator must give the same numbers.
"""Fisher / Taylor oracle for tests/prune (fixture `golden`, see tests/CMakeLists.txt).

Usage:
    /usr/bin/python3 tests/prune/make_fisher_fixture.py --out DIR

Writes DIR/ (into a temporary directory renamed into place; skipped when DIR/expected.json is
newer than this script):
    model.onnx      opset 13, input "input" [N,1,12,12], output "logits" [N,10]: a stem conv, a
                    residual block (trunk of 8 channels), a 12-channel inner conv, a 5-channel
                    branch concatenated after the trunk (Concat), a strided 16-channel conv
                    reading the 13 concatenated channels, a depthwise conv, GlobalAveragePool -> Linear;
                    beside it a channels-last MLP on the input (permute to NHWC -> Linear 1->24 ->
                    GELU -> Linear 24->10 -> mean over H, W) added to the logits, as ConvNeXt's
                    blocks compute (MatMul by a constant on the last axis)
    expected.json   {"input": [...], "shape": [...], "labels": [...],
                     "groups": {"8": {"fisher": [...], "taylor": [...]}, "12": ..., "16": ..., "24": ...}}

The five channel groups have distinct widths, so the test matches them by channel count. Masks
m_g (ones) multiply the group's channels where each consumer reads them: the trunk (8) at the inner
conv's, the branch conv's and the strided conv's inputs (channels 0..7 of the concatenation; not at
the residual Add, which is inside the group), the branch (5) at the strided conv's input channels
8..12, the inner group (12) at the block's second conv, the head (16) at the Linear's input, the
MLP's hidden channels (24) on the last axis at its second Linear's input. Per sample n with loss
L_n = CE(logits_n, label_n): d_n = dL_n/dm_g; fisher_c = mean_n d_n[c]^2; taylor_c = |sum_n d_n[c]| / N.
Computed in float64 from the float32 weights that model.onnx holds.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 0
N = 8


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(8)
        self.conv1 = nn.Conv2d(8, 12, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(12)
        self.conv2 = nn.Conv2d(12, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.branch = nn.Conv2d(8, 5, 1, bias=False)
        self.branch_bn = nn.BatchNorm2d(5)
        self.head = nn.Conv2d(13, 16, 3, stride=2, padding=1, bias=False)
        self.head_bn = nn.BatchNorm2d(16)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False)
        self.dw_bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)
        self.mlp1 = nn.Linear(1, 24)
        self.mlp2 = nn.Linear(24, 10)

    def forward(self, x, masks=None):
        def m(t, name):
            if masks is None:
                return t
            mk = masks[name]
            if name == "24":  # channels-last: the MLP's hidden channels are the last axis
                return t * mk.view(1, 1, 1, -1)
            return t * (mk.view(1, -1, 1, 1) if t.dim() == 4 else mk.view(1, -1))

        x0 = F.relu(self.stem_bn(self.stem(x)))
        y = F.relu(self.bn1(self.conv1(m(x0, "8"))))
        y = self.bn2(self.conv2(m(y, "12")))
        x1 = F.relu(x0 + y)
        b = F.relu(self.branch_bn(self.branch(m(x1, "8"))))
        h = F.relu(self.head_bn(self.head(torch.cat([m(x1, "8"), m(b, "5")], 1))))
        h = F.relu(self.dw_bn(self.dw(h)))
        h = torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)
        s = F.gelu(self.mlp1(x.permute(0, 2, 3, 1)))  # [N, 12, 12, 24]
        s = self.mlp2(m(s, "24")).mean((1, 2))       # [N, 10]
        return self.fc(m(h, "16")) + s


def build():
    torch.manual_seed(SEED)
    net = Net()
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
    return net.eval()


def scores(net, x, labels):
    net = net.double()
    x = x.double()
    masks = {k: torch.ones(int(k), dtype=torch.float64, requires_grad=True) for k in ("8", "12", "16", "5", "24")}
    per_sample = {k: [] for k in masks}
    for n in range(x.shape[0]):
        for mk in masks.values():
            mk.grad = None
        loss = F.cross_entropy(net(x[n:n + 1], masks), labels[n:n + 1], reduction="sum")
        loss.backward()
        for k, mk in masks.items():
            per_sample[k].append(mk.grad.detach().clone())
    out = {}
    for k, ds in per_sample.items():
        d = torch.stack(ds)  # [N, C]
        out[k] = {"fisher": (d * d).mean(0).tolist(), "taylor": (d.sum(0).abs() / d.shape[0]).tolist()}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    expected = os.path.join(args.out, "expected.json")
    if os.path.exists(expected) and os.path.getmtime(expected) > os.path.getmtime(__file__):
        return 0
    torch.set_num_threads(1)
    net = build()
    g = torch.Generator().manual_seed(SEED + 1)
    x = torch.randn(N, 1, 12, 12, generator=g)
    labels = torch.randint(0, 10, (N,), generator=g)
    parent = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".prune_fisher.", dir=parent)
    try:
        torch.onnx.export(net, (x,), os.path.join(tmp, "model.onnx"), opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
        result = {"shape": list(x.shape), "input": x.flatten().tolist(), "labels": labels.tolist(),
                  "groups": scores(net, x, labels)}
        with open(os.path.join(tmp, "expected.json"), "w") as f:
            json.dump(result, f)
        if os.path.exists(args.out):
            shutil.rmtree(args.out)
        os.rename(tmp, args.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
