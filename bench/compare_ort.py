#!/usr/bin/python3
# hqp vs ONNX Runtime on the same ONNX files, alternating runs, written into docs/PERFORMANCE.md.
# Standard library only; needs a built `hqp`, node and bench/ort/node_modules (npm install --ignore-scripts).
"""Side-by-side latency of hqp's fast runtime and ONNX Runtime (npm onnxruntime-node, CPU).

Usage:
    /usr/bin/python3 bench/compare_ort.py --hqp BUILD/hqp --golden-dir BUILD/golden \
        [--qdq NAME=PATH ...] [--threads 2] [--runs 50] [--warmup 10] [--rounds 5] \
        [--wait-quiet 1200] [--max-load 1.0] [--doc docs/PERFORMANCE.md] [--no-write]

For every model (default: the golden ResNet-18, MobileNetV3-Small and MobileNetV3-Large opset-13
files in --golden-dir, plus each --qdq NAME=PATH) it runs, for K rounds,
    hqp bench MODEL --threads T --runs R --warmup W --shape 1x3x224x224 --json
    node bench/ort/ort_bench.js MODEL --threads T --runs R --warmup W --shape 1x3x224x224
one after the other (the first engine alternates between rounds), so machine drift affects both.
The figure per engine is the median of the per-round medians. One extra
`hqp bench --profile --json` run of ResNet-18 gives per-layer GOP/s next to the machine's peak.

Output: a markdown block (machine, exact command, tables, targets of issue 4) printed to stdout
and written into --doc between <!-- ort-compare:begin --> and <!-- ort-compare:end -->, so a rerun
replaces it. Before measuring it waits (up to --wait-quiet seconds) for the 1-minute load average
to drop below --max-load; if it never does, it measures anyway and says so in the block.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_BENCH = os.path.join(REPO, "bench", "ort", "ort_bench.js")
BEGIN = "<!-- ort-compare:begin -->"
END = "<!-- ort-compare:end -->"
INPUT_SHAPE = "1x3x224x224"

# (key, display name, golden case) of the default FP32 models.
FP32_MODELS = [
    ("resnet18", "ResNet-18", "resnet18_op13"),
    ("mobilenet_v3_small", "MobileNetV3-Small", "mobilenet_v3_small_op13"),
    ("mobilenet_v3_large", "MobileNetV3-Large", "mobilenet_v3_large_op13"),
]
# The INT8 models issue 4 sets targets for (QDQ files from bench/make_qdq.cpp, given with --qdq).
INT8_TARGET_MODELS = [("resnet18", "ResNet-18"), ("mobilenet_v3_small", "MobileNetV3-Small")]
PROFILE_MODEL = "resnet18"

# Peak of one core of the development VM (AMD EPYC, family 25 model 17 = Zen 4 "Genoa"):
# a 512-bit FMA issues as two 256-bit halves, so 1 zmm FMA/cycle x 16 f32 lanes x 2 flops x
# ~3.64 GHz effective clock = 116.6 GFLOP/s; INT8 VNNI (vpdpbusd: 4 u8*s8 products per 32-bit
# lane) = 4x that = 466 GOP/s. Measured with an FMA-throughput loop (see docs/PERFORMANCE.md).
PEAK_F32_GFLOPS_PER_CORE = 116.6
PEAK_INT8_GOPS_PER_CORE = 466.0

# Targets of issue 4 (batch 1, 3x224x224, 2 threads); never weakened here.
TARGET_FP32_RATIO = 1.0        # hqp / ORT latency, FP32
TARGET_INT8_SPEEDUP = 2.5      # hqp FP32 / hqp INT8, ResNet-18
TARGET_INT8_RATIO = 1.0        # hqp / ORT latency, same QDQ file


def fail(msg):
    print(f"compare_ort: error: {msg}", file=sys.stderr)
    sys.exit(1)


# ------------------------------------------------------------------------------------------ machine

def cpu_description():
    model, family, number = "unknown CPU", None, None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and model == "unknown CPU":
                    model = value
                elif key == "cpu family" and family is None:
                    family = value
                elif key == "model" and number is None:
                    number = value
    except OSError:
        pass
    desc = model
    if family is not None and number is not None:
        desc += f" (family {family}, model {number})"
    return desc


def onednn_version():
    for header in ("/usr/include/oneapi/dnnl/dnnl_version.h", "/usr/include/dnnl_version.h"):
        try:
            text = open(header).read()
        except OSError:
            continue
        parts = [re.search(rf"#define DNNL_VERSION_{p}\s+(\d+)", text) for p in ("MAJOR", "MINOR", "PATCH")]
        if all(parts):
            return ".".join(m.group(1) for m in parts)
    return "unknown"


def ort_version():
    pkg = os.path.join(REPO, "bench", "ort", "node_modules", "onnxruntime-node", "package.json")
    try:
        return json.load(open(pkg))["version"]
    except (OSError, ValueError, KeyError):
        return "unknown (bench/ort/node_modules missing: npm install --ignore-scripts in bench/ort)"


def wait_until_quiet(max_load, max_wait_s, poll_s=20):
    """Returns (quiet, load at start of measuring, seconds waited)."""
    t0 = time.time()
    while True:
        load = os.getloadavg()[0]
        waited = time.time() - t0
        if load < max_load:
            return True, load, waited
        if waited >= max_wait_s:
            return False, load, waited
        print(f"compare_ort: load average {load:.2f} >= {max_load}; waiting ({waited:.0f}/{max_wait_s} s)",
              file=sys.stderr, flush=True)
        time.sleep(poll_s)


# ------------------------------------------------------------------------------------------ runs

def run_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise RuntimeError(f"{shlex.join(cmd)} printed no JSON: {p.stdout[:200]!r}")


def hqp_cmd(args, model, profile=False):
    cmd = [args.hqp, "bench", model, "--threads", str(args.threads), "--runs", str(args.runs),
           "--warmup", str(args.warmup), "--shape", INPUT_SHAPE, "--json"]
    return cmd + (["--profile"] if profile else [])


def ort_cmd(args, model):
    return [args.node, ORT_BENCH, model, "--threads", str(args.threads), "--runs", str(args.runs),
            "--warmup", str(args.warmup), "--shape", INPUT_SHAPE]


def measure(args, model):
    """Alternating rounds of both engines. Returns a dict of figures, or {'error': ...}."""
    hqp_rounds, ort_rounds = [], []
    try:
        for k in range(args.rounds):
            order = ["hqp", "ort"] if k % 2 == 0 else ["ort", "hqp"]
            for engine in order:
                if engine == "hqp":
                    hqp_rounds.append(run_json(hqp_cmd(args, model)))
                else:
                    ort_rounds.append(run_json(ort_cmd(args, model)))
    except RuntimeError as e:
        return {"error": str(e)}
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    return {
        "hqp_ms": med(hqp_rounds, "median_ms"),
        "hqp_p90_ms": med(hqp_rounds, "p90_ms"),
        "hqp_min_ms": min(r["min_ms"] for r in hqp_rounds),
        "hqp_round_ms": [r["median_ms"] for r in hqp_rounds],
        "ort_ms": med(ort_rounds, "median_ms"),
        "ort_p90_ms": med(ort_rounds, "p90_ms"),
        "ort_round_ms": [r["median_ms"] for r in ort_rounds],
        "peak_bytes": hqp_rounds[0]["peak_bytes"],
    }


def profile_layers(args, model):
    j = run_json(hqp_cmd(args, model, profile=True))
    return [p for p in j.get("profile", []) if p.get("op") in ("Conv", "FusedConv", "QConv") and p.get("macs", 0) > 0]


# ------------------------------------------------------------------------------------------ report

def fmt_ms(v):
    return f"{v:.3f}" if v is not None else "—"


def mib(b):
    return f"{b:,} ({b / 2**20:.2f} MiB)"


def main_table(rows):
    out = ["| model | hqp median ms | ORT median ms | ratio hqp/ORT | hqp p90 ms | peak activation bytes |",
           "|---|---:|---:|---:|---:|---:|"]
    for name, path, r in rows:
        if r is None:
            out.append(f"| {name} | not measured | not measured | — | — | — |")
        elif "error" in r:
            out.append(f"| {name} | failed: {r['error'][:160]} | | | | |")
        else:
            out.append(f"| {name} | {r['hqp_ms']:.3f} | {r['ort_ms']:.3f} | {r['hqp_ms'] / r['ort_ms']:.2f} | "
                       f"{r['hqp_p90_ms']:.3f} | {mib(r['peak_bytes'])} |")
    return out


def rounds_table(rows):
    out = ["| model | hqp per-round medians (ms) | ORT per-round medians (ms) |", "|---|---|---|"]
    for name, _, r in rows:
        if r and "error" not in r:
            out.append(f"| {name} | {' '.join(f'{v:.2f}' for v in r['hqp_round_ms'])} | "
                       f"{' '.join(f'{v:.2f}' for v in r['ort_round_ms'])} |")
    return out


def layer_table(layers, threads, peak_per_core=PEAK_F32_GFLOPS_PER_CORE, kind="FP32"):
    peak_t = peak_per_core * threads
    out = [f"| layer | implementation | MMAC | ms | GOP/s | % of {threads}-core {kind} peak ({peak_t:.1f}) |",
           "|---|---|---:|---:|---:|---:|"]
    total_macs, total_ms = 0, 0.0
    for p in layers:
        total_macs += p["macs"]
        total_ms += p["ms"]
        out.append(f"| {p['node']} | {p['implementation']} | {p['macs'] / 1e6:.1f} | {p['ms']:.3f} | "
                   f"{p['gops']:.1f} | {100 * p['gops'] / peak_t:.0f}% |")
    if total_ms > 0:
        gops = 2 * total_macs / (total_ms * 1e6)
        out.append(f"| **all convolutions** | | {total_macs / 1e6:.1f} | {total_ms:.3f} | {gops:.1f} | "
                   f"{100 * gops / peak_t:.0f}% |")
    return out


def verdict(ok):
    return "**met**" if ok else "**missed**"


def targets_table(fp32, int8):
    out = ["| target (issue 4) | figure | status |", "|---|---|---|"]
    for key, name, _ in FP32_MODELS:
        r = fp32.get(key)
        if r and "error" not in r:
            ratio = r["hqp_ms"] / r["ort_ms"]
            out.append(f"| FP32 {name}: hqp ≤ {TARGET_FP32_RATIO:.1f}× ORT | {r['hqp_ms']:.3f} ms vs "
                       f"{r['ort_ms']:.3f} ms = {ratio:.2f}× | {verdict(ratio <= TARGET_FP32_RATIO)} |")
        else:
            out.append(f"| FP32 {name}: hqp ≤ {TARGET_FP32_RATIO:.1f}× ORT | not measured | — |")
    for key, name in INT8_TARGET_MODELS:
        r, f = int8.get(key), fp32.get(key)
        have = r is not None and "error" not in r
        if key == "resnet18":
            if have and f and "error" not in f:
                speedup = f["hqp_ms"] / r["hqp_ms"]
                out.append(f"| INT8 {name}: hqp INT8 ≥ {TARGET_INT8_SPEEDUP}× faster than hqp FP32 | "
                           f"{f['hqp_ms']:.3f} ms / {r['hqp_ms']:.3f} ms = {speedup:.2f}× | "
                           f"{verdict(speedup >= TARGET_INT8_SPEEDUP)} |")
            else:
                out.append(f"| INT8 {name}: hqp INT8 ≥ {TARGET_INT8_SPEEDUP}× faster than hqp FP32 | "
                           f"not measured (no QDQ file) | open |")
        if have:
            ratio = r["hqp_ms"] / r["ort_ms"]
            out.append(f"| INT8 {name}: hqp ≤ {TARGET_INT8_RATIO:.1f}× ORT on the same QDQ file | "
                       f"{r['hqp_ms']:.3f} ms vs {r['ort_ms']:.3f} ms = {ratio:.2f}× | "
                       f"{verdict(ratio <= TARGET_INT8_RATIO)} |")
        else:
            out.append(f"| INT8 {name}: hqp ≤ {TARGET_INT8_RATIO:.1f}× ORT on the same QDQ file | "
                       f"not measured (no QDQ file) | open |")
    return out


def render(args, machine, fp32_rows, int8_rows, layers, int8_layers, fp32, int8):
    L = [BEGIN, "", "_Generated by `bench/compare_ort.py`; a rerun replaces everything between the markers._", ""]
    L += ["### Machine and command", ""]
    for k, v in machine:
        L.append(f"- **{k}:** {v}")
    L += ["", f"Batch 1, input {INPUT_SHAPE.replace('x', '×')}, {args.threads} threads, {args.runs} timed runs "
          f"after {args.warmup} warm-up runs per round, {args.rounds} alternating rounds; each figure is the "
          "median of the per-round medians (p90: median of the per-round p90s).", ""]
    L += ["### FP32: hqp vs ONNX Runtime", ""] + main_table(fp32_rows) + [""]
    L += ["### INT8 (QDQ): hqp vs ONNX Runtime", ""]
    if not int8_rows:
        L += ["No QDQ model was given (`--qdq NAME=PATH`): the QDQ model maker (bench/make_qdq.cpp) is still in "
              "progress, so these rows are placeholders, not measurements.", ""]
        L += main_table([(f"{name} QDQ", None, None) for _, name in INT8_TARGET_MODELS]) + [""]
    else:
        L += main_table(int8_rows) + [""]
    L += ["Per-round medians (drift check):", ""] + rounds_table(fp32_rows + int8_rows) + [""]
    L += [f"### Per-layer GOP/s: ResNet-18 convolutions (FP32, `hqp bench --profile`, {args.threads} threads)", "",
          f"Peak: {PEAK_F32_GFLOPS_PER_CORE} GFLOP/s FP32 per core × {args.threads} = "
          f"{PEAK_F32_GFLOPS_PER_CORE * args.threads:.1f} GFLOP/s (INT8 VNNI: {PEAK_INT8_GOPS_PER_CORE:.0f} GOP/s "
          f"per core × {args.threads} = {PEAK_INT8_GOPS_PER_CORE * args.threads:.0f}); derivation in the section "
          "below. GOP/s = 2 × MACs / time; per-node timing adds a clock read per step, and the fused "
          "residual add / activation count no extra ops.", ""]
    L += layer_table(layers, args.threads) if layers else ["(profile run failed or ResNet-18 not measured)"]
    if int8_layers:
        L += ["", "ResNet-18 QDQ (INT8 convolutions, same run conditions) against the INT8 VNNI peak:", ""]
        L += layer_table(int8_layers, args.threads, PEAK_INT8_GOPS_PER_CORE, "INT8")
    L += ["", "### Targets of issue 4", ""] + targets_table(fp32, int8) + ["", END]
    return "\n".join(L)


def write_doc(path, block):
    try:
        text = open(path).read()
    except OSError:
        text = f"# Performance\n\n{BEGIN}\n{END}\n"
    b, e = text.find(BEGIN), text.find(END)
    if b < 0 or e < b:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
        b, e = text.find(BEGIN), text.find(END)
    text = text[:b] + block + text[e + len(END):]
    with open(path, "w") as f:
        f.write(text)


# ------------------------------------------------------------------------------------------ main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hqp", default=os.path.join(REPO, "build", "hqp"), help="hqp binary")
    ap.add_argument("--node", default="node", help="node binary")
    ap.add_argument("--golden-dir", required=True, help="make_golden.py output (resnet18_op13/model.onnx, ...)")
    ap.add_argument("--qdq", action="append", default=[], metavar="NAME=PATH",
                    help="QDQ model; NAME resnet18 / mobilenet_v3_small match the float model (repeatable)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-load", type=float, default=1.0, help="wait until the 1-min load average is below")
    ap.add_argument("--wait-quiet", type=int, default=1200, help="seconds to wait for a quiet machine at most")
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "PERFORMANCE.md"))
    ap.add_argument("--no-write", action="store_true", help="print only; leave --doc alone")
    args = ap.parse_args(argv)

    if args.threads < 1 or args.runs < 1 or args.rounds < 1 or args.warmup < 0:
        fail(f"--threads {args.threads} --runs {args.runs} --rounds {args.rounds} --warmup {args.warmup} "
             "(expected threads, runs, rounds >= 1 and warmup >= 0)")
    if not os.access(args.hqp, os.X_OK):
        fail(f"cannot run hqp '{args.hqp}': not an executable file (give --hqp BUILD/hqp)")
    if not os.path.isdir(os.path.join(REPO, "bench", "ort", "node_modules", "onnxruntime-node")):
        fail("cannot run ONNX Runtime: bench/ort/node_modules is missing (cd bench/ort && npm install --ignore-scripts)")
    fp32_models = []
    for key, name, case in FP32_MODELS:
        path = os.path.join(args.golden_dir, case, "model.onnx")
        if not os.path.isfile(path):
            fail(f"cannot find golden model '{path}' (run /usr/bin/python3 tests/golden/make_golden.py --out "
                 f"{args.golden_dir})")
        fp32_models.append((key, name, path))
    qdq_models = []
    for spec in args.qdq:
        key, sep, path = spec.partition("=")
        if not sep or not key or not os.path.isfile(path):
            fail(f"cannot use --qdq '{spec}': expected NAME=PATH of an existing file")
        display = dict((k, n) for k, n, _ in FP32_MODELS).get(key, key)
        qdq_models.append((key, f"{display} QDQ", path))

    quiet, load, waited = wait_until_quiet(args.max_load, args.wait_quiet)
    started = datetime.datetime.now(datetime.timezone.utc)
    fp32, int8, fp32_rows, int8_rows = {}, {}, [], []
    for key, name, path in fp32_models:
        print(f"compare_ort: {name} ({path})", file=sys.stderr, flush=True)
        fp32[key] = measure(args, path)
        fp32_rows.append((name, path, fp32[key]))
    for key, name, path in qdq_models:
        print(f"compare_ort: {name} ({path})", file=sys.stderr, flush=True)
        int8[key] = measure(args, path)
        int8_rows.append((name, path, int8[key]))
    layers = []
    profile_path = dict((k, p) for k, _, p in fp32_models).get(PROFILE_MODEL)
    if profile_path:
        try:
            layers = profile_layers(args, profile_path)
        except RuntimeError as e:
            print(f"compare_ort: profile run failed: {e}", file=sys.stderr)
    int8_layers = []
    qdq_profile_path = dict((k, p) for k, _, p in qdq_models).get(PROFILE_MODEL)
    if qdq_profile_path:
        try:
            int8_layers = profile_layers(args, qdq_profile_path)
        except RuntimeError as e:
            print(f"compare_ort: INT8 profile run failed: {e}", file=sys.stderr)
    load_end = os.getloadavg()[0]

    cmd = shlex.join(["/usr/bin/python3", os.path.relpath(os.path.abspath(__file__), REPO)] +
                     (argv if argv is not None else sys.argv[1:]))
    load_note = (f"{load:.2f} at start (quiet: below {args.max_load} after {waited:.0f} s of waiting), "
                 f"{load_end:.2f} at end" if quiet else
                 f"**{load:.2f} at start — the machine never got below {args.max_load} within {args.wait_quiet} s, "
                 f"so these figures were measured under load**; {load_end:.2f} at end")
    machine = [
        ("CPU", f"{cpu_description()}, {os.cpu_count()} cores visible ({platform.machine()})"),
        ("oneDNN", onednn_version()),
        ("ONNX Runtime", f"{ort_version()} (npm onnxruntime-node, CPU execution provider, "
                         "graph optimization level 'all', sequential)"),
        ("date", started.strftime("%Y-%m-%d %H:%M UTC")),
        ("load average (1 min)", load_note),
        ("command", f"`{cmd}`"),
    ]
    block = render(args, machine, fp32_rows, int8_rows, layers, int8_layers, fp32, int8)
    print(block)
    if not args.no_write:
        write_doc(args.doc, block)
        print(f"compare_ort: wrote {args.doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
