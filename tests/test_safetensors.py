"""The safetensors reader (csrc/sc_safetensors.c, csrc/sc_weights.c) and its Python wrapper.

Files are produced by tests/st_writer.py (laid out like the reference writer); the hostile
cases follow spec/clip_stage_a_weights.md §5 rule by rule.
"""
import json
import os
import random
import re
import struct

import numpy as np
import pytest

import st_writer as W
from stable_cascade_c.safetensors import Weights, load_file, open_weights, safe_open, validate_bytes

RNG = np.random.default_rng(1234)

SPECIALS = np.array([0.0, -0.0, 1.0, -2.5, 3.14159, 1e-3, 65504.0, 65520.0, 70000.0, 1e-8, 6e-8, 1e-45, 3.4e38,
                     np.inf, -np.inf], dtype=np.float32)


def f32_from_bf16(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def sample_tensors():
    """One tensor of each readable dtype, plus 0-rank and zero-size ones (same values every call)."""
    rng = np.random.default_rng(5)
    f32 = np.concatenate([SPECIALS, rng.standard_normal(17).astype(np.float32)]).reshape(4, 8)
    return {
        "f32": f32,
        "f16": rng.standard_normal((3, 1, 5)).astype(np.float16),
        "bf16": W.Raw("BF16", (2, 3), W.bf16_bits(rng.standard_normal(6).astype(np.float32)).tobytes()),
        "i64": np.array([0, 1, -1, 2**40, -(2**62), 12345], dtype=np.int64),
        "scalar": np.array(7, dtype=np.int64),
        "scalar_f32": np.array(0.25, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "empty_bf16": W.Raw("BF16", (3, 0, 2), b""),
    }


def native(value):
    """What load_file returns for a writer input with dtype=None."""
    if isinstance(value, W.Raw):
        return f32_from_bf16(np.frombuffer(value.data, dtype=np.uint16)).reshape(value.shape)
    return value


def assert_same(a, b):
    """Same dtype, shape and bytes (so -0.0, inf and NaN payloads count)."""
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


# ---- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("pad_to", [8, 1])  # 1: unpadded header, so the data is unaligned
def test_round_trip_every_readable_dtype(tmp_path, pad_to):
    tensors = sample_tensors()
    path = W.write(tmp_path / "m.safetensors", tensors, metadata={"format": "pt", "note": "é"}, pad_to=pad_to)
    loaded = load_file(path)
    assert set(loaded) == set(tensors)
    for name, value in tensors.items():
        assert_same(loaded[name], native(value))
    with Weights(path) as w:
        assert w.metadata == {"format": "pt", "note": "é"}
        assert w.files == (str(path),)
        assert w.info("bf16") == ("BF16", (2, 3))
        assert w.info("scalar") == ("I64", ())
        assert w.info("empty") == ("F32", (0, 4))
        assert len(w) == len(tensors) and "f16" in w and "nope" not in w and 3 not in w


def test_unaligned_reads_with_conversion(tmp_path):
    """Odd data offsets force every converting read through the aligned staging path."""
    big = RNG.standard_normal(20000).astype(np.float32)  # larger than one staging chunk
    tensors = {"a": np.zeros(1, dtype=np.uint8), "f32": big, "f16": big.astype(np.float16),
               "i64": np.arange(-5000, 5000, dtype=np.int64)}
    header, data = W.header_and_data(tensors)
    # Put the 1-byte U8 first so every other tensor starts at an odd address.
    header = {"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}
    chunks, offset = [b"\0"], 1
    for name in ["f32", "f16", "i64"]:
        raw = tensors[name].tobytes()
        header[name] = {"dtype": W.NUMPY_DTYPES[tensors[name].dtype], "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    path = tmp_path / "odd.safetensors"
    path.write_bytes(W.raw_file(header, b"".join(chunks), pad_to=1))
    with Weights(path) as w:
        assert_same(w.get("f32", "float16"), big.astype(np.float16))
        assert_same(w.get("f32", "bfloat16"), W.bf16_bits(big))
        assert_same(w.get("f16", "float32"), big.astype(np.float16).astype(np.float32))
        assert_same(w.get("i64", "float32"), np.arange(-5000, 5000).astype(np.float32))
        assert_same(w.get("i64"), tensors["i64"])
        assert_same(w.get("f32"), big)


def test_conversions_are_exact(tmp_path):
    f32 = SPECIALS
    f16 = RNG.standard_normal(64).astype(np.float16)
    bf16 = W.bf16_bits(np.concatenate([SPECIALS[np.isfinite(SPECIALS)], RNG.standard_normal(32).astype(np.float32)]))
    i64 = np.array([0, 1, -7, 2**24 + 1, 2**53 + 1, -(2**63), 2**63 - 1], dtype=np.int64)
    path = W.write(tmp_path / "c.safetensors", {"f32": f32, "f16": f16, "bf16": W.Raw("BF16", bf16.shape, bf16.tobytes()),
                                                 "i64": i64})
    with Weights(path) as w, np.errstate(over="ignore"):
        assert_same(w.get("f32", "float32"), f32)
        assert_same(w.get("f32", "float16"), f32.astype(np.float16))  # RNE, 65520 -> inf
        assert_same(w.get("f32", "bfloat16"), W.bf16_bits(f32))
        assert_same(w.get("f16", "float32"), f16.astype(np.float32))
        assert_same(w.get("f16", "float16"), f16)
        assert_same(w.get("f16", "bfloat16"), W.bf16_bits(f16.astype(np.float32)))
        assert_same(w.get("bf16", "float32"), f32_from_bf16(bf16))
        assert_same(w.get("bf16", "bfloat16"), bf16)
        assert_same(w.get("bf16", "float16"), f32_from_bf16(bf16).astype(np.float16))
        assert_same(w.get("i64", "int64"), i64)
        assert_same(w.get("i64", "float32"), i64.astype(np.float32))
        for name in ["f32", "f16", "bf16"]:
            with pytest.raises(ValueError, match=r"c\.safetensors: tensor '%s': cannot read \w+ as int64" % name):
                w.get(name, "int64")
        with pytest.raises(ValueError, match="dtype must be None, 'float32'"):
            w.get("f32", "float64")


def test_nan_survives_conversion(tmp_path):
    path = W.write(tmp_path / "n.safetensors", {"x": np.array([np.nan, -np.nan], dtype=np.float32)})
    with Weights(path) as w:
        for dtype in ["float32", "float16"]:
            assert np.isnan(w.get("x", dtype)).all()
        assert np.isnan(f32_from_bf16(w.get("x", "bfloat16"))).all()


def test_unreadable_dtypes_are_listed_but_not_read(tmp_path):
    tensors = {"u8": np.arange(4, dtype=np.uint8), "f64": np.ones(2), "i32": np.arange(3, dtype=np.int32),
               "flag": np.array([True, False]), "f4": W.Raw("F4", (2, 2), b"\x12\x34"),
               "f8": W.Raw("F8_E4M3", (3,), b"abc"), "ok": np.ones(2, dtype=np.float32)}
    path = W.write(tmp_path / "u.safetensors", tensors)
    with Weights(path) as w:
        assert w.info("f4") == ("F4", (2, 2))
        assert w.info("flag") == ("BOOL", (2,))
        assert_same(w.get("ok"), tensors["ok"])
        for name, dtype in [("u8", "U8"), ("f64", "F64"), ("i32", "I32"), ("flag", "BOOL"), ("f4", "F4")]:
            with pytest.raises(ValueError, match=r"u\.safetensors: tensor '%s' has dtype %s, which cannot be read"
                               % (name, dtype)):
                w.get(name)
    with pytest.raises(ValueError, match="cannot be read"):
        load_file(path)


def test_every_reference_dtype_is_accepted():
    tensors = {d.lower(): W.Raw(d, (8,), b"\0" * (8 * bits // 8)) for d, bits in W.BITS.items()}
    infos, _ = validate_bytes(W.serialize(tensors))
    assert {info[0] for info in infos.values()} == set(W.BITS)


def test_header_whitespace_and_empty_files(tmp_path):
    tensors = {"w": np.arange(3, dtype=np.float32)}
    header, data = W.header_and_data(tensors)
    for prefix, pad in [(b"", 1), (b"", 64), (b"  \n\t", 8), (b"\r\n", 1)]:
        infos, meta = validate_bytes(W.raw_file(header, data, pad_to=pad, prefix=prefix))
        assert infos == {"w": ("F32", (3,), (0, 12))} and meta == {}
    assert validate_bytes(W.raw_file(b"{}")) == ({}, {})
    assert validate_bytes(W.raw_file(b'{"__metadata__":{}}', pad_to=1)) == ({}, {})
    # The reference reader accepts a null __metadata__ (serde Option); so do we.
    assert validate_bytes(W.raw_file(b'{"__metadata__":null}')) == ({}, {})
    path = tmp_path / "empty.safetensors"
    path.write_bytes(W.raw_file(b"{}"))
    assert load_file(path) == {}


def test_tensor_entries_tolerate_extra_fields_and_any_metadata_position():
    header = {"w": {"extra": [1, {"x": None}], "shape": [1], "data_offsets": [0, 4], "dtype": "F32"},
              "__metadata__": {"b": "2", "a": "1"}}
    infos, meta = validate_bytes(W.raw_file(header, b"\0" * 4))
    assert infos == {"w": ("F32", (1,), (0, 4))}
    assert meta == {"b": "2", "a": "1"}


def test_zero_size_tensors_share_offsets():
    header = {"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]},
              "b": {"dtype": "F16", "shape": [2, 0], "data_offsets": [0, 0]},
              "c": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
              "d": {"dtype": "I64", "shape": [0, 5], "data_offsets": [4, 4]}}
    infos, _ = validate_bytes(W.raw_file(header, b"\0" * 4))
    assert infos["d"] == ("I64", (0, 5), (4, 4))


def test_safe_open_and_keys_order(tmp_path):
    tensors = {"zeta": np.ones(2, dtype=np.float32), "alpha": np.ones(1, dtype=np.float16),
               "mid": np.arange(2, dtype=np.int64)}
    path = W.write(tmp_path / "s.safetensors", tensors, metadata={"format": "pt"})
    with Weights(path) as w:
        assert w.keys() == ["mid", "zeta", "alpha"]  # file (data) order: I64, F32, F16 as the writer lays out
    with safe_open(path) as f:
        assert f.keys() == ["alpha", "mid", "zeta"]
        assert f.metadata() == {"format": "pt"}
        assert f.info("alpha") == ("F16", (1,))
        assert_same(f.get_tensor("zeta"), tensors["zeta"])
        assert_same(f.get_tensor("zeta", "float16"), tensors["zeta"].astype(np.float16))
    with pytest.raises(ValueError, match="framework"):
        safe_open(path, framework="pt")


def test_lookup_errors_and_close(tmp_path):
    path = W.write(tmp_path / "k.safetensors", {"w": np.ones(2, dtype=np.float32)})
    w = Weights(str(path))
    with pytest.raises(KeyError):
        w.get("missing")
    with pytest.raises(KeyError):
        w.info("w\0")
    with pytest.raises(TypeError):
        w.get(b"w")
    assert w.file_of("w") == str(path)
    assert not w.closed
    w.close()
    assert w.closed
    with pytest.raises(ValueError, match="closed"):
        w.keys()
    w.close()  # closing twice is fine


def test_many_tensors_are_found_by_name(tmp_path):
    tensors = {"block.%d.weight" % i: np.full(2, i, dtype=np.float32) for i in range(3000)}
    path = W.write(tmp_path / "many.safetensors", tensors)
    with Weights(path) as w:
        assert len(w) == 3000
        for i in range(0, 3000, 7):
            assert w.get("block.%d.weight" % i)[0] == i


# ---- hostile files -------------------------------------------------------------------------------

F32_2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


HOSTILE = [
    # rule 1-3: the length field
    ("empty file", b"", "only 0 bytes: too small"),
    ("7 bytes", b"\x02\0\0\0\0\0\0", "only 7 bytes: too small"),
    ("header too large", struct.pack("<Q", 100_000_001) + b"{}", "header length 100000001 exceeds the limit"),
    ("header length u64 max", struct.pack("<Q", 2**64 - 1) + b"{}", "exceeds the limit"),
    ("header beyond file", W.raw_file(b"{}", length=100), "header length 100 goes beyond the end of the file"),
    ("header at limit beyond file", W.raw_file(b"{}", length=100_000_000), "goes beyond the end"),
    # rule 4: UTF-8 and JSON
    ("invalid UTF-8 in a name", W.raw_file(b'{"\xff":' + json.dumps(F32_2).encode() + b"}", b"\0" * 8),
     "header is not valid UTF-8 .at byte 2 of the header"),
    ("invalid UTF-8 outside strings", W.raw_file(b"{}\xc3"), "header is not valid UTF-8"),
    ("overlong UTF-8", W.raw_file(b'{"\xc0\xaf":1}'), "not valid UTF-8"),
    ("encoded surrogate", W.raw_file(b'{"\xed\xa0\x80":1}'), "not valid UTF-8"),
    ("not JSON", W.raw_file(b"hello"), r"header: invalid JSON at byte 0 \(line 1, column 1\)"),
    ("empty header", W.raw_file(b"", pad_to=1), "invalid JSON at byte 0 .* end of input"),
    ("NUL padding", W.raw_file(b"{}\0\0\0\0\0\0", pad_to=1), "unexpected data after the JSON value"),
    ("BOM", W.raw_file(b"\xef\xbb\xbf{}", pad_to=1), "invalid JSON"),
    ("lone surrogate name", W.raw_file(b'{"\\ud800":1}'), "not followed by a low surrogate"),
    ("too deep", W.raw_file(b'{"a":{"extra":' + b"[" * 200 + b"]" * 200 + b"}}"), "nesting deeper"),
    ("array header", W.raw_file(b"[]"), "header is not a JSON object"),
    ("number header", W.raw_file(b"12"), "header is not a JSON object"),
    ("string header", W.raw_file(b'"x"'), "header is not a JSON object"),
    # schema
    ("tensor not an object", W.raw_file({"w": [1]}), "tensor 'w': expected an object"),
    ("missing dtype", W.raw_file({"w": {"shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
     "tensor 'w': missing \"dtype\""),
    ("missing shape", W.raw_file({"w": {"dtype": "F32", "data_offsets": [0, 8]}}, b"\0" * 8), "missing \"shape\""),
    ("missing offsets", W.raw_file({"w": {"dtype": "F32", "shape": [2]}}, b"\0" * 8), "missing \"data_offsets\""),
    ("bad dtype", W.raw_file({"w": entry(dtype="f32")}, b"\0" * 8), "tensor 'w': unknown dtype \"f32\""),
    ("dtype with NUL", W.raw_file({"w": entry(dtype="F32\0")}, b"\0" * 8), "unknown dtype"),
    ("dtype not a string", W.raw_file({"w": entry(dtype=32)}, b"\0" * 8), "\"dtype\" must be a string"),
    ("shape not an array", W.raw_file({"w": {**F32_2, "shape": 2}}, b"\0" * 8), "\"shape\" must be an array"),
    ("negative dimension", W.raw_file({"w": entry(shape=(-2,))}, b"\0" * 8), "\"shape\" must hold non-negative"),
    ("float dimension", W.raw_file({"w": entry(shape=(2.0,))}, b"\0" * 8), "non-negative integers"),
    ("exponent dimension", W.raw_file(b'{"w":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}', b"\0" * 8),
     "non-negative integers"),
    ("string dimension", W.raw_file({"w": entry(shape=("2",))}, b"\0" * 8), "non-negative integers"),
    ("dimension over u64", W.raw_file({"w": entry(shape=(2**64, 0), offsets=(0, 0))}), "below 2\\^64"),
    ("offsets one number", W.raw_file({"w": {**F32_2, "data_offsets": [8]}}, b"\0" * 8), r"\[begin, end\]"),
    ("offsets three numbers", W.raw_file({"w": {**F32_2, "data_offsets": [0, 8, 8]}}, b"\0" * 8), r"\[begin, end\]"),
    ("offsets not an array", W.raw_file({"w": {**F32_2, "data_offsets": 8}}, b"\0" * 8), r"\[begin, end\]"),
    ("negative offset", W.raw_file({"w": entry(offsets=(-8, 0))}, b"\0" * 8), "\"data_offsets\" must hold"),
    ("nine dimensions", W.raw_file({"w": entry(shape=(1,) * 9, offsets=(0, 4))}, b"\0" * 4),
     "tensor 'w' has 9 dimensions; at most 8 are supported"),
    ("dimension over int64", W.raw_file({"w": entry(shape=(2**63, 0), offsets=(0, 0))}), "is too large"),
    ("element count overflow", W.raw_file({"w": entry(shape=(2**32, 2**32), offsets=(0, 0))}),
     "tensor 'w': the element count of its shape overflows"),
    ("byte size overflow", W.raw_file({"w": entry(shape=(2**62,), offsets=(0, 0))}),
     "tensor 'w': the byte size of its shape overflows"),
    ("sub-byte remainder", W.raw_file({"w": entry(dtype="F4", shape=(3,), offsets=(0, 2))}, b"\0" * 2),
     "3 elements of F4 do not fill whole bytes"),
    ("NUL in name", W.raw_file({"a\0b": entry()}, b"\0" * 8), "contains a NUL character"),
    # duplicates
    ("duplicate tensor", W.raw_file(b'{"w":%s,"w":%s}' % (json.dumps(F32_2).encode(), json.dumps(F32_2).encode()),
                                    b"\0" * 8), "header lists 'w' twice"),
    ("duplicate field", W.raw_file(b'{"w":{"dtype":"F32","shape":[2],"dtype":"F32","data_offsets":[0,8]}}', b"\0" * 8),
     "tensor 'w': field \"dtype\" appears twice"),
    ("duplicate metadata key", W.raw_file(b'{"__metadata__":{"a":"1","a":"1"}}'), "has the key \"a\" twice"),
    ("duplicate metadata", W.raw_file(b'{"__metadata__":{},"__metadata__":{}}'), "lists '__metadata__' twice"),
    # metadata
    ("non-string metadata", W.raw_file({"__metadata__": {"a": 1}}), "value of \"a\" is not a string"),
    ("nested metadata", W.raw_file({"__metadata__": {"a": {"b": "c"}}}), "value of \"a\" is not a string"),
    ("metadata array", W.raw_file({"__metadata__": ["a"]}), "\"__metadata__\" must be an object"),
    ("metadata string", W.raw_file({"__metadata__": "a"}), "\"__metadata__\" must be an object"),
    ("NUL in metadata", W.raw_file({"__metadata__": {"a": "x\0y"}}), "contains a NUL character"),
    # rules 5-7: layout
    ("length mismatch", W.raw_file({"w": entry(offsets=(0, 4))}, b"\0" * 4),
     r"tensor 'w': shape \[2\] of F32 needs 8 bytes but data_offsets \[0, 4\] hold 4"),
    ("zero-size with bytes", W.raw_file({"w": entry(shape=(0, 3), offsets=(0, 4))}, b"\0" * 4), "needs 0 bytes"),
    ("first not at 0", W.raw_file({"w": entry(offsets=(4, 12))}, b"\0" * 12), "the first tensor must start at 0"),
    ("overlap", W.raw_file({"a": entry(), "b": entry(offsets=(4, 12))}, b"\0" * 12),
     r"tensor 'b': data_offsets \[4, 12\] overlap tensor 'a', which ends at 8"),
    ("same offsets", W.raw_file({"a": entry(), "b": entry()}, b"\0" * 8), "overlap tensor 'a'"),
    ("gap", W.raw_file({"a": entry(), "b": entry(offsets=(12, 20))}, b"\0" * 20),
     r"tensor 'b': data_offsets \[12, 20\] leave a gap after tensor 'a', which ends at 8"),
    ("end before begin", W.raw_file({"a": entry(offsets=(0, 8)), "b": entry(offsets=(8, 0))}, b"\0" * 8),
     r"tensor 'b': data_offsets \[8, 0\] end before they begin"),
    ("beyond the data", W.raw_file({"w": entry(shape=(100,), offsets=(0, 400))}, b"\0" * 8),
     r"tensor 'w': data_offsets \[0, 400\] go beyond the end of the file \(the data section holds 8 bytes\)"),
    ("offsets near u64 max", W.raw_file({"w": entry(offsets=(2**64 - 8, 2**64 - 1))}, b"\0" * 8), "first tensor"),
    ("trailing bytes", W.raw_file({"w": entry()}, b"\0" * 11),
     r"3 bytes after the last tensor are not part of any tensor"),
    ("data but no tensors", W.raw_file(b"{}", b"\0"), "1 bytes after the last tensor"),
]


@pytest.mark.parametrize("name,data,message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_bytes_raise_value_error(name, data, message):
    with pytest.raises(ValueError, match=message) as info:
        validate_bytes(data)
    assert str(info.value).startswith("<bytes>: ")


@pytest.mark.parametrize("name,data,message", HOSTILE[::5], ids=[h[0] for h in HOSTILE[::5]])
def test_hostile_files_name_the_file(tmp_path, name, data, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as info:
        Weights(path)
    assert str(info.value).startswith(str(path) + ": ")


def test_missing_and_unreadable_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors: no such file"):
        Weights(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError):
        load_file(tmp_path / "missing" / "x.safetensors")
    with pytest.raises(OSError, match="not a regular file"):
        Weights(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no weights 'model' \(variant bf16\) in .*: looked for "
                       r"model.bf16.safetensors, model.bf16.safetensors.index.json, model.safetensors.index.bf16.json"):
        open_weights(tmp_path, "model", "bf16")
    with pytest.raises(FileNotFoundError, match="looked for model.safetensors, model.safetensors.index.json$"):
        open_weights(tmp_path / "nowhere", "model")


# ---- weight sets: variants and shards ------------------------------------------------------------


def make_shards(folder, tensors, groups, index_name="model.safetensors.index.json", shard_fmt="model-%05d-of-%05d.safetensors",
                extra_index=None, metadata=None):
    """Write `tensors` split into shards (lists of names) plus the index."""
    weight_map = {}
    for i, names in enumerate(groups):
        shard = shard_fmt % (i + 1, len(groups))
        W.write(folder / shard, {n: tensors[n] for n in names}, metadata=metadata)
        weight_map.update({n: shard for n in names})
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    index.update(extra_index or {})
    (folder / index_name).write_text(json.dumps(index, indent=2, sort_keys=True))
    return weight_map


def small_model():
    return {"a.weight": RNG.standard_normal((4, 3)).astype(np.float32), "a.bias": np.ones(4, dtype=np.float32),
            "b.weight": np.arange(6, dtype=np.float16).reshape(2, 3), "c.num": np.array(3, dtype=np.int64)}


def test_sharded_weights(tmp_path):
    tensors = small_model()
    make_shards(tmp_path, tensors, [["a.weight", "a.bias"], ["b.weight"], ["c.num"]], metadata={"format": "pt"})
    with open_weights(tmp_path, "model") as w:
        assert sorted(w.keys()) == sorted(tensors)
        assert [os.path.basename(f) for f in w.files] == ["model-00001-of-00003.safetensors",
                                                          "model-00002-of-00003.safetensors",
                                                          "model-00003-of-00003.safetensors"]
        assert w.file_of("b.weight").endswith("model-00002-of-00003.safetensors")
        assert w.metadata == {"format": "pt"}
        for name, value in tensors.items():
            assert_same(w.get(name), value)


@pytest.mark.parametrize("index_name", ["model.bf16.safetensors.index.json", "model.safetensors.index.bf16.json"])
def test_sharded_variant_index_spellings(tmp_path, index_name):
    tensors = small_model()
    make_shards(tmp_path, tensors, [["a.weight", "c.num"], ["a.bias", "b.weight"]], index_name=index_name,
                shard_fmt="model.bf16-%05d-of-%05d.safetensors")
    with open_weights(tmp_path, "model", variant="bf16") as w:
        assert len(w) == 4
    with pytest.raises(FileNotFoundError):
        open_weights(tmp_path, "model")  # the plain (non-variant) weights are not there


def test_variants_and_single_file_preference(tmp_path):
    plain = {"w": np.ones(2, dtype=np.float32)}
    half = {"w": W.Raw("BF16", (2,), W.bf16_bits(np.ones(2, dtype=np.float32)).tobytes())}
    W.write(tmp_path / "diffusion_pytorch_model.safetensors", plain)
    W.write(tmp_path / "diffusion_pytorch_model.bf16.safetensors", half)
    with open_weights(tmp_path, "diffusion_pytorch_model") as w:
        assert w.info("w") == ("F32", (2,))
    with open_weights(tmp_path, "diffusion_pytorch_model", "bf16") as w:
        assert w.info("w") == ("BF16", (2,))
        assert_same(w.get("w"), np.ones(2, dtype=np.float32))
    with open_weights(tmp_path, "diffusion_pytorch_model", "") as w:  # empty variant = none
        assert w.info("w") == ("F32", (2,))
    # An index next to a single file is ignored: the single file wins.
    (tmp_path / "diffusion_pytorch_model.safetensors.index.json").write_text("not even json")
    with open_weights(tmp_path, "diffusion_pytorch_model") as w:
        assert w.files == (str(tmp_path / "diffusion_pytorch_model.safetensors"),)


def test_shard_not_listed_tensors_are_kept(tmp_path):
    """Like diffusers (which loads whole shards), tensors a shard holds beyond the index are kept."""
    tensors = small_model()
    W.write(tmp_path / "s1.safetensors", {"a.weight": tensors["a.weight"], "extra": tensors["a.bias"]})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a.weight": "s1.safetensors"}}))
    with open_weights(tmp_path, "model") as w:
        assert sorted(w.keys()) == ["a.weight", "extra"]


def write_index(folder, obj):
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    (folder / "model.safetensors.index.json").write_bytes(data)


def test_invalid_indexes(tmp_path):
    tensors = small_model()
    W.write(tmp_path / "s1.safetensors", {"a.weight": tensors["a.weight"], "a.bias": tensors["a.bias"]})
    W.write(tmp_path / "s2.safetensors", {"b.weight": tensors["b.weight"], "a.bias": tensors["a.bias"]})
    W.write(tmp_path / "s3.safetensors", {"c.num": tensors["c.num"]})
    index = str(tmp_path / "model.safetensors.index.json")
    cases = [
        (b"{", ValueError, "model.safetensors.index.json: invalid JSON"),
        ([], ValueError, "not a JSON object"),
        ({"metadata": {}}, ValueError, "no \"weight_map\" object"),
        ({"weight_map": ["s1.safetensors"]}, ValueError, "no \"weight_map\" object"),
        (b'{"weight_map":{},"weight_map":{}}', ValueError, "key \"weight_map\" appears twice"),
        (b'{"weight_map":{"c.num":"s3.safetensors","c.num":"s3.safetensors"}}', ValueError,
         "weight_map lists tensor 'c.num' twice"),
        ({"weight_map": {"c.num": 3}}, ValueError, "tensor 'c.num' maps to a non-string"),
        ({"weight_map": {"c.num": "../s3.safetensors"}}, ValueError, "not a file name in the same folder"),
        ({"weight_map": {"c.num": "/etc/passwd"}}, ValueError, "not a file name"),
        ({"weight_map": {"c.num": ".."}}, ValueError, "not a file name"),
        ({"weight_map": {"c.num": ""}}, ValueError, "not a file name"),
        ({"weight_map": {"c.num": "missing.safetensors"}}, FileNotFoundError,
         "shard listed in %s: .*missing.safetensors: no such file" % index),
        ({"weight_map": {"b.weight": "s1.safetensors", "a.weight": "s1.safetensors"}}, ValueError,
         "tensor 'b.weight' is listed in shard s1.safetensors, which does not contain it$"),
        ({"weight_map": {"c.num": "s1.safetensors", "a.weight": "s1.safetensors", "x": "s3.safetensors"}}, ValueError,
         "tensor 'c.num' is listed in shard s1.safetensors, which does not contain it; it is in s3.safetensors"),
        ({"weight_map": {"a.weight": "s1.safetensors", "b.weight": "s2.safetensors"}}, ValueError,
         "tensor 'a.bias' is in both .*s1.safetensors and .*s2.safetensors"),
    ]
    for obj, exc, message in cases:
        write_index(tmp_path, obj)
        with pytest.raises(exc, match=message):
            open_weights(tmp_path, "model")
    (tmp_path / "bad.safetensors").write_bytes(W.raw_file(b"[]"))
    write_index(tmp_path, {"weight_map": {"c.num": "s3.safetensors", "z": "bad.safetensors"}})
    with pytest.raises(ValueError, match="shard listed in .*: .*bad.safetensors: header is not a JSON object"):
        open_weights(tmp_path, "model")
    write_index(tmp_path, {"weight_map": {}})
    with open_weights(tmp_path, "model") as w:
        assert len(w) == 0 and w.files == ()


# ---- fuzzing -------------------------------------------------------------------------------------


def fuzz_seeds():
    seeds = [W.serialize(sample_tensors(), metadata={"format": "pt"}),
             W.serialize({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array(1, dtype=np.int64)}, pad_to=1),
             W.serialize({"f4": W.Raw("F4", (4,), b"\x01\x02"), "u8": np.arange(3, dtype=np.uint8)}),
             W.raw_file(b"{}"),
             W.raw_file({"__metadata__": {"k": "v"}, "z": entry(shape=(0,), offsets=(0, 0))})]
    return seeds


TOKENS = [b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"\\u", b"\\ud800", b"0", b"-1", b"1.5", b"1e9",
          b"18446744073709551616", b"null", b"true", b'"F32"', b'"BF16"', b'"F4"', b'"dtype"', b'"shape"',
          b'"data_offsets"', b'"__metadata__"', b"[]", b"{}", b"\xc3", b"\xff", b"\x00", b" ", b"\n"]
NUMBERS = [0, 1, 2, 3, 4, 7, 8, 9, 16, 2**31, 2**32, 2**62, 2**63 - 1, 2**63, 2**64 - 1, 2**64]


def _header_edit(rng, header, seeds):
    op = rng.randrange(6)
    pos = rng.randrange(len(header) + 1)
    if op == 0 and header:  # replace a byte
        header[min(pos, len(header) - 1)] = rng.randrange(256)
    elif op == 1:  # insert a JSON-ish token
        header[pos:pos] = rng.choice(TOKENS)
    elif op == 2:  # delete a span
        del header[pos:pos + rng.randrange(1, 12)]
    elif op == 3:  # splice in a piece of another file's header
        other = rng.choice(seeds)
        a = rng.randrange(8, len(other) + 1)
        header[pos:pos + rng.randrange(0, 8)] = other[a:a + rng.randrange(1, 48)]
    else:  # change a number (shape or offset)
        spans = [m.span() for m in re.finditer(rb"\d+", bytes(header))]
        if spans:
            a, b = rng.choice(spans)
            old = int(header[a:b])
            header[a:b] = str(rng.choice(NUMBERS + [old + 1, max(0, old - 1), old * 2])).encode()


def mutate(rng, data, seeds):
    """A mutated copy of a valid file: header edits re-framed with the right length (to reach the
    schema and layout checks), data edits, and now and then damage to the framing itself."""
    n = struct.unpack("<Q", data[:8])[0]
    header, body = bytearray(data[8:8 + n]), bytearray(data[8 + n:])
    for _ in range(rng.choice([1, 1, 2, 3])):
        op = rng.randrange(10)
        if op < 7:
            _header_edit(rng, header, seeds)
        elif op < 9 and body:  # tensor bytes only: the file stays valid
            body[rng.randrange(len(body))] = rng.randrange(256)
        elif rng.random() < 0.5:
            body += bytes(rng.randrange(1, 9))
        else:
            del body[max(0, len(body) - rng.randrange(1, 9)):]
    out = bytearray(struct.pack("<Q", len(header)) + header + body)
    framing = rng.randrange(12)
    if framing == 0:  # truncate anywhere
        del out[rng.randrange(len(out) + 1):]
    elif framing == 1:  # a wrong length field
        out[:8] = struct.pack("<Q", max(0, len(header) + rng.choice([-3, -1, 1, 2, 7, 1 << 20, 1 << 40])))
    return bytes(out)


def test_fuzz_validate_bytes_never_crashes(tmp_path):
    """Thousands of mutated files: each must validate or raise ValueError (fixed seed)."""
    rng = random.Random(20240229)
    seeds = fuzz_seeds()
    accepted = rejected = 0
    for i in range(12000):
        data = mutate(rng, rng.choice(seeds), seeds)
        try:
            infos, _ = validate_bytes(data)
        except ValueError as e:
            assert str(e).startswith("<bytes>: ")
            rejected += 1
            continue
        accepted += 1
        n_header = struct.unpack("<Q", data[:8])[0]
        assert sum(end - begin for _, _, (begin, end) in infos.values()) == len(data) - 8 - n_header
        if accepted % 5 == 0:  # read the tensors of some survivors through the file path too
            path = tmp_path / ("f%d.safetensors" % i)
            path.write_bytes(data)
            with Weights(path) as w:
                for name in w.keys():
                    if w.info(name)[0] in ("F32", "F16", "BF16", "I64"):
                        try:
                            w.get(name, "float32")
                        except ValueError as e:  # e.g. shape [2**62, 0]: too big for NumPy
                            assert "too large for a NumPy array" in str(e)
            path.unlink()
    assert accepted > 1000 and rejected > 8000, (accepted, rejected)
