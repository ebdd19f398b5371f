"""Read the data inside a pickle stream without unpickling it.

Two of Keras's cached formats are pickle streams: the ragged word-index lists
of `imdb.npz` / `reuters.npz` (NumPy object arrays, which `.npy` stores as a
pickle) and the CIFAR batch files (pickled dicts of NumPy arrays). `pickle`
would run whatever code a stream names, so lamina never calls it. This module
is a small interpreter of pickle opcodes that builds only plain data: ints,
floats, strings, bytes, None/bools, lists, tuples, dicts and NumPy arrays. It
imports nothing a stream names; the only "globals" it accepts are recognized
by name (NumPy's array/dtype reconstructors and `_codecs.encode`) and rebuilt
by this code itself. Anything else raises `ValueError`.
"""

import codecs
import io
import struct

import numpy as np

_ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}
_FROMBUFFER_GLOBALS = {
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}
_KNOWN_GLOBALS = (
    _ARRAY_GLOBALS
    | _FROMBUFFER_GLOBALS
    | {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)


class _Mark:
    pass


_MARK = _Mark()


class _Global:
    def __init__(self, module, name):
        self.module, self.name = module, name


class _ArrayBuilder:
    """A NumPy array being rebuilt: created by REDUCE, filled by BUILD."""

    def __init__(self):
        self.array = None


class _DtypeBuilder:
    def __init__(self, descr):
        if isinstance(descr, bytes):  # Python 2 pickles (CIFAR) spell it b"u1"
            descr = descr.decode("latin1")
        self.dtype = np.dtype(descr)


def _refuse(what: str):
    raise ValueError(
        f"lamina refuses to read this pickle stream: it contains {what}, which "
        "is not plain data (lists, dicts, numbers, strings, NumPy arrays). "
        "lamina never runs code from data files. Re-create the file from a "
        "trusted source."
    )


def _reduce(func, args):
    if not isinstance(func, _Global):
        _refuse(f"a call to {type(func).__name__}")
    key = (func.module, func.name)
    if key in _ARRAY_GLOBALS:
        return _ArrayBuilder()
    if key in _FROMBUFFER_GLOBALS:
        # Protocol 5: (buffer, dtype, shape, order).
        buffer, dtype, shape, order = args
        dtype = dtype.dtype if isinstance(dtype, _DtypeBuilder) else np.dtype(dtype)
        flat = np.frombuffer(bytes(buffer), dtype=dtype)
        return flat.reshape(shape, order=order).copy()
    if key == ("numpy", "dtype"):
        return _DtypeBuilder(args[0])
    if key == ("_codecs", "encode"):
        # Protocol-2 pickles from Python 3 spell bytes as encode(str, "latin1").
        text, encoding = args
        return text.encode(encoding)
    _refuse(f"a call to {func.module}.{func.name}")


def _build(obj, state):
    if isinstance(obj, _DtypeBuilder):
        # (version, byte order, subdescr, names, fields, itemsize, align, flags)
        order = state[1]
        if isinstance(order, bytes):
            order = order.decode("latin1")
        if order in "<>":
            obj.dtype = obj.dtype.newbyteorder(order)
        return
    if isinstance(obj, _ArrayBuilder):
        _version, shape, dtype, fortran, raw = state
        dtype = dtype.dtype if isinstance(dtype, _DtypeBuilder) else np.dtype(dtype)
        order = "F" if fortran else "C"
        if dtype.hasobject:
            array = np.empty(len(raw), dtype=object)
            for i, item in enumerate(raw):
                array[i] = _resolve(item)
            obj.array = array.reshape(shape, order=order)
        else:
            if isinstance(raw, str):  # Python 2 strings decoded as latin1
                raw = raw.encode("latin1")
            flat = np.frombuffer(bytes(raw), dtype=dtype)
            obj.array = flat.reshape(shape, order=order).copy()
        return
    _refuse(f"state for a {type(obj).__name__}")


def _resolve(value):
    """Replace array builders by their arrays, through containers."""
    if isinstance(value, _ArrayBuilder):
        return value.array
    if isinstance(value, _DtypeBuilder):
        return value.dtype
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve(v) for v in value)
    if isinstance(value, dict):
        return {_resolve(k): _resolve(v) for k, v in value.items()}
    return value


def loads(data: bytes):
    """The plain data a pickle stream holds, built without `pickle`.

    Python 2 strings (`str` in the stream) come back as `bytes`, as
    `pickle.load(..., encoding="bytes")` gives them.
    """
    return _Reader(memoryview(data)).run()


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0
        self.stack, self.memo = [], {}

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("Truncated pickle stream: the file is incomplete.")
        chunk = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return chunk

    def raw_line(self) -> bytes:
        end = bytes(self.data[self.pos :]).find(b"\n")
        if end < 0:
            raise ValueError("Truncated pickle stream: the file is incomplete.")
        return self.take(end + 1)[:-1]

    def line(self) -> str:
        return self.raw_line().decode("latin1")

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def pop_mark(self) -> list:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is _MARK:
                items = self.stack[i + 1 :]
                del self.stack[i:]
                return items
        raise ValueError("Malformed pickle stream: no MARK.")

    def run(self):
        # One branch per opcode, grouped as the pickle protocol documents them.
        stack, memo = self.stack, self.memo
        while True:
            op = self.take(1)
            # Framing and protocol
            if op == b"\x80":
                self.take(1)
            elif op == b"\x95":
                self.take(8)
            elif op == b".":
                return _resolve(stack.pop())
            # Containers
            elif op == b"(":
                stack.append(_MARK)
            elif op == b"]":
                stack.append([])
            elif op == b"}":
                stack.append({})
            elif op == b")":
                stack.append(())
            elif op == b"l":
                stack.append(self.pop_mark())
            elif op == b"t":
                stack.append(tuple(self.pop_mark()))
            elif op == b"d":
                items = self.pop_mark()
                stack.append(dict(zip(items[::2], items[1::2])))
            elif op in (b"\x85", b"\x86", b"\x87"):
                n = op[0] - 0x84
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif op == b"a":
                item = stack.pop()
                stack[-1].append(item)
            elif op == b"e":
                items = self.pop_mark()
                stack[-1].extend(items)
            elif op == b"s":
                value, key = stack.pop(), stack.pop()
                stack[-1][key] = value
            elif op == b"u":
                items = self.pop_mark()
                stack[-1].update(zip(items[::2], items[1::2]))
            # Numbers and constants
            elif op == b"K":
                stack.append(self.take(1)[0])
            elif op == b"M":
                stack.append(self.unpack("<H"))
            elif op == b"J":
                stack.append(self.unpack("<i"))
            elif op == b"\x8a":
                n = self.take(1)[0]
                stack.append(int.from_bytes(self.take(n), "little", signed=True))
            elif op == b"\x8b":
                n = self.unpack("<i")
                stack.append(int.from_bytes(self.take(n), "little", signed=True))
            elif op == b"I":
                text = self.line()  # protocol 0 spells booleans "00"/"01"
                special = {"00": False, "01": True}
                stack.append(special[text] if text in special else int(text))
            elif op == b"L":
                stack.append(int(self.line().rstrip("L")))
            elif op == b"G":
                stack.append(self.unpack(">d"))
            elif op == b"F":
                stack.append(float(self.line()))
            elif op == b"N":
                stack.append(None)
            elif op == b"\x88":
                stack.append(True)
            elif op == b"\x89":
                stack.append(False)
            # Strings and bytes
            elif op == b"U":
                stack.append(self.take(self.take(1)[0]))
            elif op == b"T":
                stack.append(self.take(self.unpack("<i")))
            elif op == b"C":
                stack.append(self.take(self.take(1)[0]))
            elif op == b"B":
                stack.append(self.take(self.unpack("<I")))
            elif op == b"\x8e":
                stack.append(self.take(self.unpack("<Q")))
            elif op == b"\x96":
                stack.append(bytearray(self.take(self.unpack("<Q"))))
            elif op == b"V":
                stack.append(self.raw_line().decode("raw-unicode-escape"))
            elif op == b"S":
                text = self.raw_line()
                if len(text) < 2 or text[:1] != text[-1:] or text[:1] not in b"'\"":
                    raise ValueError("Malformed pickle stream: bad STRING.")
                stack.append(codecs.escape_decode(text[1:-1])[0])
            elif op == b"\x8c":
                stack.append(self.take(self.take(1)[0]).decode("utf-8"))
            elif op == b"X":
                stack.append(self.take(self.unpack("<I")).decode("utf-8"))
            elif op == b"\x8d":
                stack.append(self.take(self.unpack("<Q")).decode("utf-8"))
            # Memo
            elif op == b"q":
                memo[self.take(1)[0]] = stack[-1]
            elif op == b"r":
                memo[self.unpack("<I")] = stack[-1]
            elif op == b"p":
                memo[int(self.line())] = stack[-1]
            elif op == b"\x94":
                memo[len(memo)] = stack[-1]
            elif op == b"h":
                stack.append(memo[self.take(1)[0]])
            elif op == b"j":
                stack.append(memo[self.unpack("<I")])
            elif op == b"g":
                stack.append(memo[int(self.line())])
            # Stack
            elif op == b"0":
                stack.pop()
            elif op == b"1":
                self.pop_mark()
            elif op == b"2":
                stack.append(stack[-1])
            # Named objects: only the known data reconstructors
            elif op == b"c":
                module, name = self.line(), self.line()
                stack.append(self._global(module, name))
            elif op == b"\x93":
                name, module = stack.pop(), stack.pop()
                stack.append(self._global(module, name))
            elif op == b"R":
                args, func = stack.pop(), stack.pop()
                stack.append(_reduce(func, args))
            elif op == b"b":
                state = stack.pop()
                _build(stack[-1], state)
            else:
                _refuse(f"the opcode {op!r}")

    @staticmethod
    def _global(module: str, name: str) -> _Global:
        if (module, name) not in _KNOWN_GLOBALS:
            _refuse(f"a reference to {module}.{name}")
        return _Global(module, name)


def read_npy(raw: bytes):
    """A `.npy` file's array; object arrays are decoded by `loads`."""
    fp = io.BytesIO(raw)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise ValueError(f"Unsupported .npy format version {version}.")
    if not dtype.hasobject:
        fp.seek(0)
        return np.lib.format.read_array(fp, allow_pickle=False)
    array = loads(raw[fp.tell() :])
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise ValueError(
            f"The object array in this .npy file decodes to {type(array).__name__} "
            f"instead of an array of shape {tuple(shape)}; the file is damaged."
        )
    return array
