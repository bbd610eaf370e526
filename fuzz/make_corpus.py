#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/<target>/: a handful of small valid files per reader and a
few broken ones. Standard library only; deterministic, so re-running it rewrites the same bytes.

    fuzz/make_corpus.py            # (re)writes fuzz/corpus next to this script

The files are committed: scripts/fuzz copies them to the build folder before each run, so a run
never changes them. Formats are written from their specifications here rather than by patternnet's
own writers, so the seeds do not inherit a writer bug.
"""

import json
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def put(target, name, data):
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --- safetensors ---------------------------------------------------------------------------------

def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes), laid out in order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset, body = 0, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        body += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + body


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def f64(*values):
    return struct.pack("<%dd" % len(values), *values)


def write_safetensors():
    put("safetensors", "f32_2x3.safetensors",
        safetensors([("w", "F32", [2, 3], f32(1, -2, 3.5, 0, 1e-3, -7))], {"k": "v"}))
    put("safetensors", "mixed_dtypes.safetensors", safetensors([
        ("a_f16", "F16", [2], struct.pack("<2H", 0x3C00, 0xC000)),
        ("b_bf16", "BF16", [1, 1], struct.pack("<H", 0x3F80)),
        ("c_f64", "F64", [2], f64(0.1, -1e300)),
        ("d_i64", "I64", [1], struct.pack("<q", -5)),
        ("e_empty", "F32", [0, 4], b""),
        ("f_scalar", "F32", [], f32(2.0)),
    ]))
    put("safetensors", "rank4.safetensors", safetensors([("conv.weight", "F32", [1, 1, 2, 2], f32(1, 2, 3, 4)),
                                                          ("conv.bias", "F32", [1], f32(0.5))]))
    put("safetensors", "empty.safetensors", safetensors([]))
    # Broken: truncated data, overlapping tensors, a header length past the end, not JSON.
    put("safetensors", "bad_truncated.safetensors", safetensors([("w", "F32", [4], f32(1, 2, 3, 4))])[:-5])
    overlap = b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'
    put("safetensors", "bad_overlap.safetensors", struct.pack("<Q", len(overlap)) + overlap + f32(1, 2))
    put("safetensors", "bad_header_length.safetensors", struct.pack("<Q", 1 << 60) + b"{}")
    put("safetensors", "bad_json.safetensors", struct.pack("<Q", 9) + b'{"a":[1,]')


# --- pn.architecture -----------------------------------------------------------------------------

def write_architecture():
    layer = lambda name, kind, **kw: dict(name=name, type=kind, **kw)
    docs = {"input": [3, 14, 22], "layers": [
        layer("conv1", "conv2d", in_channels=3, out_channels=5, kernel=3, stride=1, padding=0),
        layer("relu1", "relu"), layer("pool1", "maxpool2d", kernel=2, stride=2),
        layer("avg1", "avgpool2d", kernel=2, stride=2), layer("flat", "flatten"),
        layer("drop", "dropout", p=0.5), layer("fc1", "linear", in_features=75, out_features=10)]}
    mlp = {"input": [784], "layers": [
        layer("fc1", "linear", in_features=784, out_features=32), layer("relu1", "relu"),
        layer("fc2", "linear", in_features=32, out_features=10)]}
    cnn = {"input": [1, 28, 28], "layers": [
        layer("conv1", "conv2d", in_channels=1, out_channels=4, kernel=3, padding=1), layer("relu1", "relu"),
        layer("pool1", "maxpool2d", kernel=2), layer("conv2", "conv2d", in_channels=4, out_channels=8, kernel=3,
                                                     stride=2, padding=1),
        layer("flat", "flatten"), layer("fc", "linear", in_features=392, out_features=10)]}
    put("architecture", "documented_example.json", json.dumps(docs))
    put("architecture", "mlp.json", json.dumps(mlp))
    put("architecture", "cnn.json", json.dumps(cnn, indent=1))
    put("architecture", "empty_layers.json", '{"input": [5], "layers": []}')
    # Broken: unknown type, negative size, a parameter count past the limit, bad JSON.
    put("architecture", "bad_type.json", '{"input": [4], "layers": [{"name": "s", "type": "softmax"}]}')
    put("architecture", "bad_negative.json",
        '{"input": [4], "layers": [{"name": "fc", "type": "linear", "in_features": 4, "out_features": -1}]}')
    put("architecture", "bad_huge.json", '{"input": [1048576], "layers": [{"name": "fc", "type": "linear", '
                                         '"in_features": 1048576, "out_features": 1048576}]}')
    put("architecture", "bad_json.json", '{"input": [4], "layers": [')


# --- .npy ----------------------------------------------------------------------------------------

def npy(descr, shape, raw, version=1, fortran=False):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    text = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, "True" if fortran else "False", dims)
    pre = 10 if version == 1 else 12
    text += " " * ((64 - (pre + len(text) + 1) % 64) % 64) + "\n"
    length = struct.pack("<H", len(text)) if version == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + length + text.encode("latin-1") + raw


def write_npy():
    put("npy", "f4_2x3.npy", npy("<f4", [2, 3], f32(1, 2, 3, 4, 5, 6)))
    put("npy", "f4_scalar.npy", npy("<f4", [], f32(7)))
    put("npy", "f4_empty.npy", npy("<f4", [0], b""))
    put("npy", "f8_v2.npy", npy("<f8", [2, 1], f64(0.1, -7), version=2))
    put("npy", "f4_v3_rank4.npy", npy("<f4", [1, 2, 1, 2], f32(1, 2, 3, 4), version=3))
    put("npy", "bad_fortran.npy", npy("<f4", [2], f32(1, 2), fortran=True))
    put("npy", "bad_short.npy", npy("<f4", [3], f32(1, 2)))
    put("npy", "bad_magic.npy", b"NOTNUMPY\x01\x00")


# --- gzip'd IDX ----------------------------------------------------------------------------------

def idx(dims, data):
    return b"\x00\x00\x08" + bytes([len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def gz(data):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip wrapper
    return c.compress(data) + c.flush()


def write_idx():
    images = idx([2, 2, 3], bytes(range(0, 240, 20)))
    labels = idx([2], b"\x03\x09")
    put("idx", "images_2x2x3.gz", gz(images))
    put("idx", "labels_2.gz", gz(labels))
    put("idx", "plain_rank4", idx([1, 2, 1, 2], b"\x01\x02\x03\x04"))
    # 'Z' first: fuzz_idx gzips the rest itself (see fuzz_idx.cpp), so mutations reach the header.
    put("idx", "Z_images", b"Z" + images)
    put("idx", "Z_labels_zero", b"Z" + idx([0], b""))
    put("idx", "bad_short.gz", gz(idx([10], b"abc")))
    put("idx", "bad_long", b"Z" + idx([2], b"abc"))
    put("idx", "bad_corrupt.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xab" * 32)


# --- images --------------------------------------------------------------------------------------

def png(width, height, color_type, bit_depth, rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 on every row
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def bmp(width, height, rgb_rows):
    stride = (width * 3 + 3) & ~3
    pixels = b""
    for row in reversed(rgb_rows):  # bottom-up
        bgr = b"".join(bytes([row[i + 2], row[i + 1], row[i]]) for i in range(0, len(row), 3))
        pixels += bgr + b"\x00" * (stride - len(bgr))
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    head = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return head + info + pixels


def jpeg_flat(width, height, components):
    """A baseline JPEG of mid-gray 8x8 blocks: one-symbol Huffman tables (DC category 0, AC
    end-of-block, each the 1-bit code 0), so every block is two 0 bits."""
    def seg(marker, body):
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body
    dqt = seg(0xDB, b"\x00" + b"\x01" * 64)
    sof = seg(0xC0, struct.pack(">BHHB", 8, height, width, components) +
              b"".join(bytes([i + 1, 0x11, 0]) for i in range(components)))
    one_code = bytes([1] + [0] * 15) + b"\x00"
    dht = seg(0xC4, b"\x00" + one_code + b"\x10" + one_code)
    sos = seg(0xDA, bytes([components]) + b"".join(bytes([i + 1, 0x00]) for i in range(components)) + b"\x00\x3f\x00")
    blocks = ((width + 7) // 8) * ((height + 7) // 8) * components
    bits = "00" * blocks
    bits += "1" * ((8 - len(bits) % 8) % 8)
    scan = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
    return b"\xff\xd8" + dqt + sof + dht + sos + scan + b"\xff\xd9"


def write_images():
    rgb_rows = [bytes([255, 0, 0, 0, 255, 0]), bytes([0, 0, 255, 255, 255, 255])]
    put("image", "rgb_2x2.png", png(2, 2, 2, 8, rgb_rows))
    put("image", "gray_1x1.png", png(1, 1, 0, 8, [b"\x80"]))
    put("image", "rgba16_2x1.png", png(2, 1, 6, 16, [bytes(range(16))]))
    put("image", "bad_palette_without_plte.png", png(2, 1, 3, 8, [b"\x00\x01"]))
    put("image", "rgb_2x2.bmp", bmp(2, 2, rgb_rows))
    put("image", "gray_8x8.jpg", jpeg_flat(8, 8, 1))
    put("image", "color_16x8.jpg", jpeg_flat(16, 8, 3))
    put("image", "one_pixel.gif",
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
    put("image", "rgb_2x2.ppm", b"P6\n2 2\n255\n" + b"".join(rgb_rows))
    tga = struct.pack("<BBBHHBHHHHBB", 0, 0, 2, 0, 0, 0, 0, 0, 2, 2, 24, 0) + bytes(12)
    put("image", "black_2x2.tga", tga)
    good = png(2, 2, 2, 8, rgb_rows)
    put("image", "bad_truncated.png", good[: len(good) // 2])
    huge = png(1, 1, 0, 8, [b"\x00"])
    put("image", "bad_huge_ihdr.png", huge[:16] + struct.pack(">II", 100000, 100000) + huge[24:])


# --- statistics files ----------------------------------------------------------------------------

class Hasher:
    """pn::Hasher (src/pn/core/hash.cpp): the checksum of statistics files."""
    M = (1 << 64) - 1

    def __init__(self):
        self.h = 0x9E3779B97F4A7C15

    def mix(self, v):
        h = self.h
        h ^= (v + 0x9E3779B97F4A7C15 + ((h << 6) & self.M) + (h >> 2)) & self.M
        h = (h * 0xBF58476D1CE4E5B9) & self.M
        h ^= h >> 31
        self.h = h

    def add(self, data):
        i = 0
        while i + 8 <= len(data):
            self.mix(struct.unpack_from("<Q", data, i)[0])
            i += 8
        for b in data[i:]:
            self.mix(b)
        self.mix(len(data))


def stats_file(layers, regimes=False, second=False, first=0, images=4, corrupt_checksum=False):
    """layers: list of (name, d, o). Values are simple numbers; the reader checks layout, not meaning."""
    fields = [("shift_x", "d"), ("shift_y", "o"), ("sy", "o"), ("syy", "o"), ("sx", "d"), ("sxy", "od")]
    if regimes:
        fields += [("npos", "o"), ("sypos", "o"), ("syypos", "o"), ("sxpos", "od"), ("sxypos", "od")]
    if second:
        fields += [("sxx", "dd")]
    h = Hasher()
    h.mix(first)
    h.mix(images)
    tensors = []
    for name, d, o in layers:
        n = f64(float(images))
        tensors.append((name + ".n", "F64", [1], n))
        h.add(n)
        for field, dims in fields:
            shape = {"d": [d], "o": [o], "od": [o, d], "dd": [d, d]}[dims]
            count = 1
            for s in shape:
                count *= s
            raw = f64(*[0.25 * (k + 1) for k in range(count)])
            tensors.append((name + "." + field, "F64", shape, raw))
            h.add(raw)
    checksum = "%016x" % h.h
    if corrupt_checksum:
        checksum = "0123456789abcdef"
    meta = {
        "pn.format": "patternnet.pattern-stats", "pn.format_version": "1", "pn.model_fingerprint": "00000000deadbeef",
        "pn.estimator": "two_component" if regimes else "linear", "pn.statistics": "regimes" if regimes else "linear",
        "pn.second_moments": "true" if second else "false", "pn.data": "fuzz seed", "pn.data_fingerprint": "0",
        "pn.samples": "4", "pn.batch": "2", "pn.preprocess": "none", "pn.kernels": "scalar", "pn.threads": "1",
        "pn.first": str(first), "pn.images": str(images), "pn.layers": json.dumps([l[0] for l in layers]),
        "pn.checksum": checksum,
    }
    return safetensors(tensors, meta)


def write_stats():
    put("stats", "linear_1layer.safetensors", stats_file([("fc1", 3, 2)]))
    put("stats", "regimes_second_2layers.safetensors",
        stats_file([("conv1", 2, 1), ("fc2", 1, 3)], regimes=True, second=True, first=4, images=2))
    put("stats", "bad_checksum.safetensors", stats_file([("fc1", 2, 2)], corrupt_checksum=True))
    no_layer = stats_file([("fc1", 1, 1)]).replace(b'"pn.layers":"[\\"fc1\\"]"', b'"pn.layers":"[\\"fc9\\"]"')
    put("stats", "bad_missing_layer.safetensors", no_layer)


def main():
    write_safetensors()
    write_architecture()
    write_npy()
    write_idx()
    write_images()
    write_stats()
    for target in sorted(os.listdir(OUT)):
        print(f"{target}: {len(os.listdir(os.path.join(OUT, target)))} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
