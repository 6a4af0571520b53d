"""Read a GGUF file's header: architecture, size, quantization, context, template.

`gguf.GGUFReader` decodes every metadata array into numpy views, which costs ~2 s
on a 135M model's 49k-token vocabulary. We only need scalars and strings, so this
walks the header with `struct` and skips arrays by length, using gguf-py's own
constants for the format. Tensor data is never read; only its extent is checked,
which catches truncated downloads.
"""

from __future__ import annotations

import mmap
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from gguf import GGML_QUANT_SIZES, GGUF_MAGIC, GGMLQuantizationType, GGUFValueType, LlamaFileType

from danlu.errors import CorruptModel
from danlu.store.manifest import ModelInfo

_SCALARS: dict[GGUFValueType, str] = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}
_DEFAULT_ALIGNMENT = 32


class _Truncated(Exception):
    """The header claims more bytes than the file holds."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    n_elements: int
    type: int
    offset: int


@dataclass(frozen=True)
class GGUFHeader:
    """Metadata scalars/strings (arrays skipped), tensor descriptors, and layout."""

    version: int
    metadata: dict[str, object]
    tensors: list[TensorInfo]
    data_start: int


class _Cursor:
    """Sequential little/big-endian reads over a memory map."""

    def __init__(self, buf: mmap.mmap, endian: str) -> None:
        self.buf, self.endian, self.pos = buf, endian, 0

    def take(self, fmt: str) -> object:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise _Truncated
        (value,) = struct.unpack_from(self.endian + fmt, self.buf, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        length = self.take("Q")
        if self.pos + length > len(self.buf):
            raise _Truncated
        raw = self.buf[self.pos : self.pos + length]
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def skip(self, n: int) -> None:
        if self.pos + n > len(self.buf):
            raise _Truncated
        self.pos += n

    def value(self, vtype: GGUFValueType) -> object:
        """Read one value; arrays are skipped and come back as None."""
        if vtype == GGUFValueType.STRING:
            return self.string()
        if vtype == GGUFValueType.ARRAY:
            self._skip_array()
            return None
        return self.take(_SCALARS[vtype])

    def _skip_array(self) -> None:
        item = GGUFValueType(self.take("I"))
        count = self.take("Q")
        if item in _SCALARS:
            return self.skip(count * struct.calcsize(_SCALARS[item]))
        if count * 8 > len(self.buf) - self.pos:  # each element needs at least a length
            raise _Truncated
        for _ in range(count):
            self.value(item)
        return None


def has_gguf_magic(path: Path) -> bool:
    """True when `path` starts with the GGUF magic bytes: a quick check, no header walk."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return len(head) == 4 and struct.unpack("<I", head)[0] == GGUF_MAGIC


def read_gguf_header(path: Path) -> GGUFHeader:
    """Parse the header of a GGUF file; CorruptModel if it is not a readable GGUF."""
    path = Path(path)
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(buf, path)
    except _Truncated:
        raise _corrupt(path, "is truncated (the header ends early)") from None
    except (ValueError, struct.error) as exc:  # empty file (mmap), bad enum value, ...
        raise _corrupt(path, f"is not a readable GGUF file ({exc})") from None
    except IsADirectoryError:
        raise _corrupt(path, "is a folder, not a GGUF file") from None
    except OSError as exc:
        raise _corrupt(path, f"cannot be read ({exc.strerror or exc})") from None


def _corrupt(path: Path, what: str) -> CorruptModel:
    return CorruptModel(
        f"{path} {what}",
        hint="download or convert the model again; danlu needs a complete .gguf file",
    )


def _parse(buf: mmap.mmap, path: Path) -> GGUFHeader:
    if len(buf) < 8 or struct.unpack_from("<I", buf, 0)[0] != GGUF_MAGIC:
        raise _corrupt(path, "is not a GGUF file (wrong magic bytes)")
    version = struct.unpack_from("<I", buf, 4)[0]
    endian = "<" if version & 0xFFFF else ">"  # a byte-swapped version means big-endian
    cur = _Cursor(buf, endian)
    cur.pos = 4
    version = cur.take("I")
    if version < 2:
        raise _corrupt(path, f"uses GGUF version {version}, which is no longer supported")
    n_tensors, n_kv = cur.take("Q"), cur.take("Q")
    if n_tensors > len(buf) or n_kv > len(buf):
        raise _Truncated
    metadata = {cur.string(): cur.value(GGUFValueType(cur.take("I"))) for _ in range(n_kv)}
    tensors = [_tensor_info(cur) for _ in range(n_tensors)]
    alignment = metadata.get("general.alignment") or _DEFAULT_ALIGNMENT
    data_start = -(-cur.pos // int(alignment)) * int(alignment)
    header = GGUFHeader(version, metadata, tensors, data_start)
    _check_extent(header, len(buf), path)
    return header


def _tensor_info(cur: _Cursor) -> TensorInfo:
    name = cur.string()
    n_dims = cur.take("I")
    if n_dims > 8:
        raise ValueError(f"tensor '{name}' claims {n_dims} dimensions")
    n_elements = 1
    for _ in range(n_dims):
        n_elements *= cur.take("Q")
    return TensorInfo(name, n_elements, cur.take("I"), cur.take("Q"))


def _check_extent(header: GGUFHeader, file_size: int, path: Path) -> None:
    """The last tensor must end inside the file, else the download was cut short."""
    end = header.data_start
    for t in header.tensors:
        try:
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(t.type)]
        except (ValueError, KeyError):
            continue  # a tensor type newer than this gguf-py: cannot size it
        end = max(end, header.data_start + t.offset + t.n_elements // block * type_size)
    if end > file_size:
        raise _corrupt(path, f"is truncated ({file_size} bytes, tensor data needs {end})")


def quantization_name(header: GGUFHeader) -> str | None:
    """'Q4_1', 'F16', ... from general.file_type, else the dominant tensor type."""
    file_type = header.metadata.get("general.file_type")
    if isinstance(file_type, int):
        try:
            ftype = LlamaFileType(file_type)
        except ValueError:
            ftype = None
        if ftype is not None and ftype != LlamaFileType.GUESSED:
            return ftype.name.removeprefix("MOSTLY_").removeprefix("ALL_")
    weights: Counter[int] = Counter()
    for t in header.tensors:
        weights[t.type] += t.n_elements
    if not weights:
        return None
    top = weights.most_common(1)[0][0]
    try:
        return GGMLQuantizationType(top).name
    except ValueError:
        return None


def read_gguf_info(path: Path) -> ModelInfo:
    """The ModelInfo of a GGUF file (raises CorruptModel if it cannot be parsed)."""
    header = read_gguf_header(path)
    meta = header.metadata
    arch = meta.get("general.architecture")
    arch = arch if isinstance(arch, str) else None
    params = meta.get("general.parameter_count")
    if not isinstance(params, int):
        params = sum(t.n_elements for t in header.tensors)
    context = meta.get(f"{arch}.context_length") if arch else None
    template = meta.get("tokenizer.chat_template")
    license_ = meta.get("general.license")
    return ModelInfo(
        format="gguf",
        architecture=arch,
        parameters=params,
        quantization=quantization_name(header),
        context_length=context if isinstance(context, int) and context > 0 else None,
        chat_template=template if isinstance(template, str) else None,
        license=license_ if isinstance(license_, str) else None,
    )
