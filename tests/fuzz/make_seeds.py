#!/usr/bin/python3
"""Writes the seed inputs of the fuzz targets (fuzz/*.cpp) under tests/fuzz/corpus/<target>/.

Seeds come from the project's test fixtures (the demo model, ONNX's conformance models and tensors
of libonnx-testdata) and from small valid files of every format the readers take, built here the
way the tests build theirs. Crash reproducers found by fuzzing live beside them as crash-<sha1>
and are never rewritten by this script. Run with Debian's /usr/bin/python3 (torchvision encodes
the JPEG seeds):  /usr/bin/python3 tests/fuzz/make_seeds.py
"""
import gzip
import hashlib
import pathlib
import shutil
import struct
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
NODE = pathlib.Path("/usr/share/libonnx-testdata/data/node")


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# --- ONNX models and tensors -------------------------------------------------------------------
ONNX_NODES = [
    "test_conv_with_strides_padding", "test_basic_conv_with_padding", "test_gemm_default_single_elem_vector_bias",
    "test_relu", "test_maxpool_2d_pads", "test_averagepool_2d_pads", "test_globalaveragepool",
    "test_batchnorm_epsilon", "test_add_bcast", "test_mul_bcast", "test_concat_2d_axis_1", "test_flatten_axis1",
    "test_reshape_reordered_all_dims", "test_softmax_axis_1", "test_sigmoid", "test_hardsigmoid",
    "test_hardswish", "test_clip_splitbounds", "test_quantizelinear_axis", "test_dequantizelinear_axis",
    "test_quantizelinear", "test_dequantizelinear", "test_constant", "test_transpose_default",
    "test_matmul_2d", "test_squeeze", "test_unsqueeze_axis_0", "test_gather_0", "test_shape",
    "test_identity", "test_sum_example", "test_qlinearconv", "test_convinteger_with_padding",
]
TENSOR_NODES = ["test_conv_with_strides_padding", "test_quantizelinear", "test_dequantizelinear_axis",
                "test_gather_0", "test_reshape_reordered_all_dims", "test_cast_FLOAT_to_FLOAT16",
                "test_cast_FLOAT_to_DOUBLE", "test_not_2d", "test_squeeze"]

(CORPUS / "onnx_model").mkdir(parents=True, exist_ok=True)
shutil.copy(ROOT / "models" / "demo" / "tiny_cnn.onnx", CORPUS / "onnx_model" / "demo_tiny_cnn.onnx")
for n in ONNX_NODES:
    p = NODE / n / "model.onnx"
    if p.is_file():
        put("onnx_model", n + ".onnx", p.read_bytes())
for n in TENSOR_NODES:
    for p in sorted((NODE / n).glob("test_data_set_0/*.pb")):
        put("tensor_proto", f"{n}_{p.stem}.pb", p.read_bytes())

# --- IDX: <2-byte split offset><images idx3><labels idx1> ----------------------------------------


def idx(dims, body):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(body)


images = idx([3, 4, 5], [(i * 37) % 256 for i in range(60)])
labels = idx([3], [0, 2, 1])
for name, im, lb in [("plain", images, labels), ("gzip", gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0)),
                     ("empty", idx([0, 28, 28], []), idx([0], []))]:
    put("idx", name, struct.pack(">H", len(im)) + im + lb)

# --- CIFAR: <kind byte: 0 cifar10, 1 cifar100 fine, 2 coarse><records> --------------------------
pixels = bytes((i * 11) % 256 for i in range(3072))
put("cifar", "cifar10_2", bytes([0]) + bytes([3]) + pixels + bytes([9]) + pixels)
put("cifar", "cifar100_1", bytes([1]) + bytes([4, 77]) + pixels)
put("cifar", "cifar100_coarse_1", bytes([2]) + bytes([19, 3]) + pixels)

# --- images --------------------------------------------------------------------------------------


def png(width, height, color_type, bit_depth, rows, extra_chunks=b""):
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + r for r in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra_chunks + chunk(b"IDAT", zlib.compress(raw)) + \
        chunk(b"IEND", b"")


W, H = 6, 4
put("image_decode", "gray8.png", png(W, H, 0, 8, [bytes((x * 40 + y) % 256 for x in range(W)) for y in range(H)]))
put("image_decode", "rgb8.png", png(W, H, 2, 8, [bytes((x * 7 + y * 3 + c) % 256 for x in range(W) for c in range(3))
                                              for y in range(H)]))
put("image_decode", "rgba8.png", png(W, H, 6, 8, [bytes((x + y + c * 50) % 256 for x in range(W) for c in range(4))
                                               for y in range(H)]))
put("image_decode", "gray_alpha8.png", png(W, H, 4, 8, [bytes((x * 9 + c) % 256 for x in range(W) for c in range(2))
                                                     for y in range(H)]))
put("image_decode", "rgb16.png", png(W, H, 2, 16, [bytes((x * 13 + c) % 256 for x in range(W) for c in range(6))
                                                for y in range(H)]))
put("image_decode", "gray1.png", png(8, 2, 0, 1, [b"\xa5", b"\x5a"]))
plte = struct.pack(">I", 6) + b"PLTE" + b"\xff\x00\x00\x00\x00\xff"
plte += struct.pack(">I", zlib.crc32(b"PLTE\xff\x00\x00\x00\x00\xff") & 0xFFFFFFFF)
put("image_decode", "palette8.png", png(W, H, 3, 8, [bytes((x + y) % 2 for x in range(W)) for y in range(H)], plte))
try:
    import torch
    import torchvision.io as tvio
    g = torch.arange(W * H, dtype=torch.uint8).reshape(1, H, W) * 9
    rgb = torch.stack([g[0], 255 - g[0], g[0] // 2])
    put("image_decode", "gray.jpg", tvio.encode_jpeg(g, quality=90).numpy().tobytes())
    put("image_decode", "rgb.jpg", tvio.encode_jpeg(rgb, quality=75).numpy().tobytes())
    big = (torch.arange(3 * 20 * 17, dtype=torch.int64).reshape(3, 20, 17) % 251).to(torch.uint8)
    put("image_decode", "rgb_20x17.jpg", tvio.encode_jpeg(big, quality=50).numpy().tobytes())
except ImportError:
    print("make_seeds: no torchvision (run with /usr/bin/python3): JPEG seeds kept as they are")

# --- text parsers --------------------------------------------------------------------------------
for i, text in enumerate([
        "", "resize(size=32)|center_crop(size=28)", "random_crop(size=28x28,pad=4)|hflip(p=0.5)",
        "gray_to_rgb|normalize(mean=0.485/0.456/0.406,std=0.229/0.224/0.225)",
        "resize(size=7x9)|normalize(mean=0.286,std=0.353)", "random:5000", "random:auto", "random:100:7",
        "tail:600", "folder", "0.5/0.25/1e-3", "nan", "resize(size=1x1)|center_crop(size=3)"]):
    put("preprocess", f"seed{i:02d}", text.encode())

print("make_seeds: corpus under", CORPUS.relative_to(ROOT))
