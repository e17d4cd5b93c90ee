"""The strict JSON parser (csrc/sc_json.c) against Python's json module.

Python's json is more lenient than RFC 8259 in three ways (NaN/Infinity literals, lone
surrogate escapes, unbounded nesting); `strict_loads` removes those so both must agree exactly
on every document: same value (types and float bits included) or both an error.
"""
import json
import math
import random
import struct

import pytest

from stable_cascade_c import _C

MAX_DEPTH = 128


def _reject_constant(name):
    raise ValueError("non-standard constant " + name)


def _check_no_surrogates(value):
    if isinstance(value, str):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise ValueError("lone surrogate")
    elif isinstance(value, list):
        for v in value:
            _check_no_surrogates(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_no_surrogates(k)
            _check_no_surrogates(v)


def _depth(value):
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def strict_loads(data: bytes):
    """Python's json restricted to RFC 8259 plus our depth limit."""
    value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    _check_no_surrogates(value)
    if _depth(value) > MAX_DEPTH:
        raise ValueError("too deep")
    return value


def same(a, b):
    """Equality that also compares types and float bit patterns (-0.0, inf)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def agree(data: bytes):
    """Assert that the C parser and strict_loads agree on `data`."""
    try:
        expected = strict_loads(data)
    except (ValueError, RecursionError):
        with pytest.raises(ValueError):
            _C._json_parse(data)
        return
    got = _C._json_parse(data)
    assert same(got, expected), (data, got, expected)


VALID = [
    b"0", b"-0", b"1", b"-1", b"123456789", b"0.5", b"-0.0", b"1e3", b"1E+3", b"1e-3", b"1.5e300", b"1e400",
    b"-1e400", b"1e-400", b"4.9e-324", b"2.2250738585072011e-308", b"0.1", b"18446744073709551615",
    b"18446744073709551616", b"-9223372036854775809", b"123456789012345678901234567890",
    b'""', b'"a"', b'" "', b'"\\"\\\\\\/\\b\\f\\n\\r\\t"', b'"\\u0000"', b'"\\u00e9"', b'"\\u20AC"',
    b'"\\ud83d\\ude00"', b'"\\uDBFF\\uDFFF"', '"héllo €😀"'.encode(), b'"\x7f"', b'"\xf4\x8f\xbf\xbf"',
    b"true", b"false", b"null", b"[]", b"{}", b"[[]]", b"[{}]", b' \t\r\n[ 1 , 2 ] \n', b'{"a":1}',
    b'{"a":{"b":[1,{"c":null}]}}', b'{"":0}', b'{"a":1,"a":2}', b'[1,"2",3.0,true,false,null,[],{}]',
    b'{"\\u0000":"x"}', b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, b'{"k":' * (MAX_DEPTH - 1) + b"{}" + b"}" * (MAX_DEPTH - 1),
]

INVALID = [
    b"", b" ", b"\n", b"[", b"]", b"{", b"}", b"[1,]", b"[,1]", b"[1 2]", b"[1,,2]", b"[-]", b'{"a":1,}',
    b'{"a" 1}', b"{a:1}", b"{'a':1}", b'{"a":}', b"{:1}", b'{"a"}', b'{"a":1}}', b'{"a":1 "b":2}', b"{1:2}",
    b'["a\\x"]', b'"\\u12"', b'"\\u12G4"', b'"\\uD800"', b'"\\uDC00"', b'"\\uD800\\u0041"', b'"\\uD800x"',
    b'"\\uD800\\"', b'"\\ud83d\\ud83d"', b'"\\U0041"', b'"\\\'"', b'"\\a"', b'"\t"', b'"\n"', b'"\x00"', b'"\x1f"',
    b"01", b"-01", b"00", b"-", b"--1", b"1.", b".1", b"1.e1", b"1e", b"1e+", b"1e-", b"+1", b"0x10", b"1f",
    b"NaN", b"Infinity", b"-Infinity", b"[NaN]", b"nan", b"tru", b"nul", b"fals", b"True", b"NULL", b"truex",
    b"[1]x", b"[1] [2]", b"1 2", b"\xef\xbb\xbf[]", b'"\xff"', b'"\xc0\x80"', b'"\xc1\xbf"', b'"\xe0\x80\xaf"',
    b'"\xed\xa0\x80"', b'"\xed\xbf\xbf"', b'"\xf4\x90\x80\x80"', b'"\xf5\x80\x80\x80"', b'"\xe2\x82"',
    b'"\xe2\x82"x', b'"\x80"', b'"abc', b'"abc\\"', b'"\\', b'"', b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    b'{"k":' * MAX_DEPTH + b"{}" + b"}" * MAX_DEPTH, b"//c\n[]", b"/*c*/[]", b"[]\x00", b"\x00", b"[\xa0]",
    b'["a",\n]', b"\x0b[]", b"\x0c[]", b"[\xc2\xa0]", b"'a'", b'"a" "b"',
]


@pytest.mark.parametrize("data", VALID)
def test_valid_documents_match_python(data):
    strict_loads(data)  # the corpus itself must be valid
    agree(data)


@pytest.mark.parametrize("data", INVALID)
def test_invalid_documents_raise_value_error(data):
    with pytest.raises(ValueError, match=r"<bytes>: invalid JSON at byte \d+ \(line \d+, column \d+\)"):
        _C._json_parse(data)


def test_error_messages_locate_the_problem():
    with pytest.raises(ValueError, match=r"at byte 10 \(line 2, column 5\): unexpected character ']'"):
        _C._json_parse(b'{"a":\n [1,]}')
    with pytest.raises(ValueError, match="leading zeros"):
        _C._json_parse(b"[01]")
    with pytest.raises(ValueError, match="nesting deeper than 128 levels"):
        _C._json_parse(b"[" * 200 + b"]" * 200)
    with pytest.raises(ValueError, match="unterminated string"):
        _C._json_parse(b'["abc')
    with pytest.raises(ValueError, match="invalid UTF-8"):
        _C._json_parse(b'"\xc0\x80"')
    with pytest.raises(ValueError, match="lone low surrogate"):
        _C._json_parse(b'"\\udc00"')
    with pytest.raises(ValueError, match="not followed by a low surrogate"):
        _C._json_parse(b'"\\ud800"')
    with pytest.raises(ValueError, match="control character 0x0a"):
        _C._json_parse(b'"a\nb"')
    with pytest.raises(ValueError, match="unexpected data after the JSON value"):
        _C._json_parse(b"{} {}")
    with pytest.raises(ValueError, match="end of input"):
        _C._json_parse(b"")


def test_accepts_any_buffer_without_reading_past_it():
    data = bytearray(b'{"a": [1, 2]}garbage "unterminated')
    assert _C._json_parse(memoryview(data)[:13]) == {"a": [1, 2]}
    with pytest.raises(ValueError, match="end of input"):
        _C._json_parse(memoryview(data)[:12])
    with pytest.raises(ValueError, match="unterminated string"):
        _C._json_parse(memoryview(b'"abc\\"')[:6])


def _random_string(rng):
    pools = ["abc xyz", '"\\/\b\f\n\r\t', "\x00\x01\x1f\x7f", "éß€", "😀𝄞", "中文字"]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randrange(0, 8)))


def _random_value(rng, depth=0):
    kind = rng.randrange(10 if depth < 6 else 7)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randrange(-(2**70), 2**70)
    if kind == 2:
        return rng.randrange(0, 2**64)
    if kind == 3:
        return rng.choice([0.0, -0.0, 1e-310, 1e308]) * rng.random() + rng.uniform(-1e6, 1e6)
    if kind == 4:
        return struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
    if kind in (5, 6):
        return _random_string(rng)
    if kind in (7, 8):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    return {_random_string(rng): _random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def _dumps(value, rng):
    text = json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 0, 2, "\t"]),
                      separators=rng.choice([None, (",", ":"), (" , ", " : ")]))
    return text.encode()


def _finite(value):
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def test_random_documents_round_trip():
    rng = random.Random(1234)
    for _ in range(1500):
        value = _random_value(rng)
        if not _finite(value):
            continue
        data = _dumps(value, rng)
        assert same(_C._json_parse(data), json.loads(data)), data


def test_truncations_and_mutations_agree_with_python():
    """Differential fuzzing: prefixes and byte-mutated variants of valid documents."""
    rng = random.Random(99)
    alphabet = b' \t\n\r{}[]:,"\\/-+.0123456789eEuabfnrtxlsDdC\x00\x1f\x7f\x80\xbf\xc2\xe0\xed\xf0\xf4\xff'
    for _ in range(400):
        value = _random_value(rng)
        if not _finite(value):
            continue
        data = _dumps(value, rng)
        agree(data[: rng.randrange(0, len(data) + 1)])
        for _ in range(4):
            mutated = bytearray(data)
            for _ in range(rng.randrange(1, 4)):
                op = rng.randrange(3)
                pos = rng.randrange(0, len(mutated) + 1)
                if op == 0 and pos < len(mutated):
                    mutated[pos] = rng.choice(alphabet)
                elif op == 1:
                    mutated[pos:pos] = bytes([rng.choice(alphabet)])
                elif pos < len(mutated):
                    del mutated[pos]
            agree(bytes(mutated))


def test_large_flat_documents():
    vocab = {"tok%d</w>" % i: i for i in range(60000)}
    data = json.dumps(vocab).encode()
    assert _C._json_parse(data) == vocab
    big_list = list(range(200000))
    assert _C._json_parse(json.dumps(big_list).encode()) == big_list
    long_string = "x" * 3_000_000 + "é"
    assert _C._json_parse(json.dumps(long_string, ensure_ascii=False).encode()) == long_string


def test_u64_and_double_accessors():
    assert _C._json_number(b"0") == ("0", 0, 0.0)
    assert _C._json_number(b"18446744073709551615") == ("18446744073709551615", 2**64 - 1, float(2**64 - 1))
    assert _C._json_number(b"18446744073709551616")[1] is None
    assert _C._json_number(b"99999999999999999999")[1] is None
    for text in [b"-1", b"-0", b"1.0", b"1e2", b"1E2", b"0.5"]:
        assert _C._json_number(text)[1] is None, text
    for text in [b"0.1", b"-0.0", b"1e400", b"-1e400", b"1e-400", b"4.9e-324", b"2.2250738585072011e-308",
                 b"1.7976931348623157e308", b"123456789012345678901234567890e-30", b"3.141592653589793238462643"]:
        text_out, _, value = _C._json_number(b" " + text + b"\n")
        assert text_out == text.decode()
        assert same(value, float(text)), text
    with pytest.raises(TypeError):
        _C._json_number(b'"1"')


def test_duplicate_key_detection():
    assert _C._json_duplicate_key(b'{"a":1,"b":2,"a":3}') == "a"
    assert _C._json_duplicate_key(b'{"a":1,"b":2,"c":{"x":1,"x":2}}') is None  # top level only
    assert _C._json_duplicate_key(b'{"a":1,"b":2,"b":3,"a":4}') == "b"
    assert _C._json_duplicate_key(b"{}") is None
    assert _C._json_duplicate_key(b"[1,1]") is None
    assert _C._json_duplicate_key(b'{"\\u00e9":1,"\xc3\xa9":2}') == "é"  # same key after decoding
    assert _C._json_duplicate_key(b'{"a\\u0000b":1,"a\\u0000c":2}') is None  # keys differ after the NUL
    assert _C._json_duplicate_key(b'{"a\\u0000b":1,"a\\u0000b":2}') is not None
    many = {"k%d" % i: i for i in range(20000)}
    data = json.dumps(many)[:-1] + ', "k12345": 0}'
    assert _C._json_duplicate_key(data.encode()) == "k12345"
    assert _C._json_duplicate_key(json.dumps(many).encode()) is None


def test_utf8_check_matches_python_decoder():
    rng = random.Random(7)
    samples = [b"", b"abc", "é€😀".encode(), b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"a\xe2\x82",
               b"\xef\xbb\xbf", b"\xf0\x9f\x98"]
    pieces = [b"a", b"\x00", b"\x7f", b"\x80", b"\xbf", b"\xc2", b"\xdf", b"\xe0", b"\xa0", b"\xed", b"\x9f",
              b"\xf0", b"\x90", b"\xf4", b"\x8f", b"\xf5", b"\xff", "é".encode(), "€".encode(), "😀".encode()]
    samples += [b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 10))) for _ in range(5000)]
    for data in samples:
        try:
            data.decode("utf-8")
            expected = len(data)
        except UnicodeDecodeError as e:
            expected = e.start
        assert _C._utf8_check(data) == expected, data
