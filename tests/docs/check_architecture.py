#!/usr/bin/env python3
"""Checks that the layering the documents describe is the layering the build enforces.

Three views of the library graph must agree, edge for edge:
  1. src/CMakeLists.txt's target_link_libraries calls (what CMake links: the truth),
  2. the dependency list in the comment at the top of src/CMakeLists.txt,
  3. the "targets" block of docs/ARCHITECTURE.md (the diagram readers see).
Then every `#include "folder/..."` in src/ must stay inside what its library may see: its own folder,
its direct dependencies and their public dependencies (CMake puts all of src/ on the include path,
so this is the check that keeps a header from sneaking across a layer). libtorch may only be
included under src/train/ and src/distributed/ (both hqp_train), oneDNN only under src/kernels/onednn/, ONNX protobufs only under src/onnx/.
Exit status 0 when all agree; otherwise one line per problem and exit status 1.
"""
import argparse
import pathlib
import re
import sys

FOLDER_TARGET = {
    "core": "hqp_core",
    "kernels/ref": "hqp_kernels_ref",
    "kernels/onednn": "hqp_kernels_onednn",
    "kernels/x86": "hqp_kernels_x86",
    "ir": "hqp_ir",
    "onnx": "hqp_onnx",
    "reference": "hqp_reference",
    "passes": "hqp_passes",
    "runtime": "hqp_runtime",
    "quant": "hqp_quant",
    "data": "hqp_data",
    "train": "hqp_train",
    "distributed": "hqp_train",  # compiled into hqp_train (c10d is libtorch's)
    "metrics": "hqp_metrics",
    "modeldata": "hqp_modeldata",
    "eval": "hqp_eval",
    "prune": "hqp_prune",
    "pruner": "hqp_pruner",
    "quantizer": "hqp_quantizer",
    "pipeline": "hqp_pipeline",
}
# System headers only some folders may include: (regex, the folders allowed -- one library each).
EXTERNAL_HEADERS = [
    (re.compile(r'#include\s*<(torch|ATen|c10|gloo)/'), ("train", "distributed")),
    (re.compile(r'#include\s*<(oneapi/dnnl|dnnl)'), ("kernels/onednn",)),
    (re.compile(r'#include\s*<onnx/'), ("onnx",)),
]


def cmake_graph(text):
    """{target: (public deps, private deps)} from add_library targets' target_link_libraries calls."""
    libs = set(re.findall(r"add_library\((hqp_\w+)", text))
    graph = {}
    for m in re.finditer(r"target_link_libraries\((hqp_\w+)([^)]*)\)", text):
        target, body = m.group(1), m.group(2).split()
        if target not in libs:
            continue
        public, private, mode = set(), set(), "PUBLIC"
        for tok in body:
            if tok in ("PUBLIC", "PRIVATE", "INTERFACE"):
                mode = tok
            elif tok in libs:
                (private if mode == "PRIVATE" else public).add(tok)
        graph[target] = (public, private)
    for lib in libs:
        graph.setdefault(lib, (set(), set()))
    return graph


def listed_graph(lines):
    """{target: deps} from lines 'hqp_x   hqp_a, hqp_b (+ externals) ...' ('-' for none)."""
    graph = {}
    for line in lines:
        m = re.match(r"\s*(hqp_\w+)\s+(.*)$", line)
        if not m:
            continue
        graph[m.group(1)] = set(re.findall(r"hqp_\w+", m.group(2).split("(")[0]))
    return graph


def comment_block(cmake_text):
    out = []
    for line in cmake_text.splitlines():
        if not line.startswith("#"):
            break
        out.append(line.lstrip("#"))
    return out


def doc_block(doc_text):
    m = re.search(r"<!-- targets -->\s*```text\n(.*?)```", doc_text, re.S)
    return m.group(1).splitlines() if m else None


def compare(name, listed, truth, problems):
    for target in sorted(set(truth) | set(listed)):
        want = truth.get(target)
        got = listed.get(target)
        if want is None:
            problems.append(f"{name}: lists '{target}', which src/CMakeLists.txt does not build")
        elif got is None:
            problems.append(f"{name}: does not list library '{target}'")
        elif got != want:
            problems.append(f"{name}: '{target}' depends on {sorted(got)} but CMake links {sorted(want)}")


def visible(graph, target):
    """Libraries whose headers `target` may include: itself, direct deps, their public closure."""
    seen = {target}
    stack = list(graph[target][0] | graph[target][1])
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        stack.extend(graph[t][0])
    return seen


def folder_of(path, src):
    rel = path.relative_to(src).as_posix()
    for folder in sorted(FOLDER_TARGET, key=len, reverse=True):
        if rel.startswith(folder + "/"):
            return folder
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parents[2]))
    root = pathlib.Path(ap.parse_args().root)
    src = root / "src"
    cmake_text = (src / "CMakeLists.txt").read_text()
    graph = cmake_graph(cmake_text)
    truth = {t: pub | priv for t, (pub, priv) in graph.items()}
    problems = []

    compare("src/CMakeLists.txt comment", listed_graph(comment_block(cmake_text)), truth, problems)
    block = doc_block((root / "docs" / "ARCHITECTURE.md").read_text())
    if block is None:
        problems.append("docs/ARCHITECTURE.md: no '<!-- targets -->' block followed by a ```text diagram")
    else:
        listed = listed_graph(block)
        compare("docs/ARCHITECTURE.md", listed, truth, problems)
        order = [t for t in (re.match(r"\s*(hqp_\w+)", l) for l in block) if t]
        order = [m.group(1) for m in order]
        for i, target in enumerate(order):
            for dep in sorted(listed.get(target, ())):
                if dep not in order[:i]:
                    problems.append(f"docs/ARCHITECTURE.md: '{target}' is listed before its dependency '{dep}' "
                                    "(expected layer order)")

    for target in FOLDER_TARGET.values():
        if target not in graph:
            problems.append(f"src/CMakeLists.txt: no library '{target}' (folder map in {__file__} is stale)")
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".h", ".cpp", ".def"):
            continue
        folder = folder_of(path, src)
        if folder is None:
            problems.append(f"{path.relative_to(root)}: in no library folder")
            continue
        target = FOLDER_TARGET[folder]
        if target not in graph:
            continue
        allowed = visible(graph, target)
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = re.match(r'\s*#include\s*"([^"]+)"', line)
            if m:
                inc = m.group(1)
                inc_folder = next((f for f in sorted(FOLDER_TARGET, key=len, reverse=True)
                                   if inc.startswith(f + "/")), None)
                if inc_folder is None:
                    continue  # a file next to this one (e.g. "commands.h" in tools)
                if FOLDER_TARGET[inc_folder] not in allowed:
                    problems.append(f"{path.relative_to(root)}:{n}: includes '{inc}' of {FOLDER_TARGET[inc_folder]}, "
                                    f"which {target} does not link (it may see {sorted(allowed - {target})})")
            for rx, only in EXTERNAL_HEADERS:
                if rx.match(line) and folder not in only:
                    problems.append(f"{path.relative_to(root)}:{n}: '{line.strip()}' outside "
                                    + " / ".join(f"src/{o}/" for o in only))

    for p in problems:
        print(p)
    if problems:
        print(f"check_architecture: {len(problems)} problem(s)")
        return 1
    print(f"check_architecture: {len(truth)} libraries, "
          f"{sum(len(d) for d in truth.values())} edges agree; includes respect them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
