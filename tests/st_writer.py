"""A tiny safetensors writer for tests (no torch, no `safetensors` package).

`serialize` lays files out like the reference writer (`prepare` in safetensors/src/tensor.rs):
tensors sorted by dtype alignment (descending) then name, consecutive offsets, the JSON header
padded with spaces to a multiple of 8 bytes. `raw_file` builds arbitrary (hostile) files.
"""
import json
import struct

import numpy as np

BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32,
    "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}
ORDER = list(BITS)  # the reference enum order, which is also its alignment order

NUMPY_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int64): "I64",
                np.dtype(np.int32): "I32", np.dtype(np.uint8): "U8", np.dtype(np.float64): "F64",
                np.dtype(np.bool_): "BOOL"}


def bf16_bits(x):
    """float32 values -> bfloat16 bit patterns (uint16), round to nearest even (finite input)."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


class Raw:
    """A tensor given as (dtype name, shape, bytes), e.g. BF16 bit patterns."""

    def __init__(self, dtype, shape, data):
        self.dtype, self.shape, self.data = dtype, tuple(shape), bytes(data)


def _as_raw(value):
    if isinstance(value, Raw):
        return value
    arr = np.asarray(value)
    return Raw(NUMPY_DTYPES[arr.dtype], arr.shape, arr.astype(arr.dtype.newbyteorder("<")).tobytes())


def header_and_data(tensors, metadata=None):
    """The header dict and the data bytes for `tensors` ({name: ndarray | Raw})."""
    raws = {name: _as_raw(v) for name, v in tensors.items()}
    names = sorted(raws, key=lambda n: (-ORDER.index(raws[n].dtype), n))
    header, chunks, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in names:
        r = raws[name]
        header[name] = {"dtype": r.dtype, "shape": list(r.shape), "data_offsets": [offset, offset + len(r.data)]}
        chunks.append(r.data)
        offset += len(r.data)
    return header, b"".join(chunks)


def raw_file(header, data=b"", pad_to=8, prefix=b"", length=None):
    """8-byte length + header + data. `header` is a dict (dumped compactly) or bytes; it is padded
    with spaces to a multiple of `pad_to` (1 = no padding). `length` overrides the length field."""
    text = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    text = prefix + text
    text += b" " * (-len(text) % pad_to)
    n = len(text) if length is None else length
    return struct.pack("<Q", n) + text + data


def serialize(tensors, metadata=None, pad_to=8):
    """A valid safetensors file for `tensors` ({name: ndarray | Raw})."""
    header, data = header_and_data(tensors, metadata)
    return raw_file(header, data, pad_to=pad_to)


def write(path, tensors, metadata=None, pad_to=8):
    with open(path, "wb") as f:
        f.write(serialize(tensors, metadata, pad_to))
    return path


def read(path):
    """{name: Raw} of a well-formed file, in header order (so tests can edit and re-`write` it)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    return {name: Raw(v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
            for name, v in header.items() if name != "__metadata__"}
