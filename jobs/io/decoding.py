"""Bytes of a department export -> text, strictly, with the encoding detected over the whole file.

Departments label files GBK or GB2312 and deliver GB18030 (the superset), or deliver UTF-8 with or
without a BOM whatever the label says. A file is read as UTF-8 when it starts with the BOM or is
valid UTF-8 from end to end; otherwise with its declared encoding, where GBK and GB2312 mean GB18030.
Decoding is strict: an undecodable byte rejects the file with its offset, and no U+FFFD is ever
invented. Files ending in `.gz` are decompressed on the fly (offsets then count decompressed bytes).
"""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from jobs.errors import ExportRejected

CHUNK_BYTES = 1 << 20

#: Encoding names departments put on their files, and the codec that reads them safely.
ENCODING_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030", "utf8": "utf-8", "utf-8-sig": "utf-8"}


def codec_for(label: str) -> str:
    """The Python codec for an encoding label; GBK and GB2312 are read as GB18030 (their superset)."""
    name = label.strip().lower()
    return ENCODING_ALIASES.get(name, name)


def open_bytes(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when it is gzip."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _chunks(path: Path) -> Iterator[bytes]:
    with open_bytes(path) as fh:
        try:
            while chunk := fh.read(CHUNK_BYTES):
                yield chunk
        except (OSError, EOFError) as exc:  # truncated or corrupt gzip
            raise ExportRejected(f"cannot be decompressed: {exc}", file=str(path)) from None


def detect_encoding(path: Path, declared: str) -> str:
    """`utf-8-sig` when the file starts with a BOM, `utf-8` when it is valid UTF-8 throughout, else the
    declared codec (GBK and GB2312 as GB18030). The manifest records it beside the declared label, so a
    department whose "GBK" files are really UTF-8 can be told so."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    first = True
    try:
        for chunk in _chunks(path):
            if first and chunk.startswith(codecs.BOM_UTF8):
                return "utf-8-sig"
            first = False
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return codec_for(declared)
    return "utf-8"


def decoded_lines(path: Path, encoding: str) -> Iterator[str]:
    """Lines of the file (split on LF only, line endings kept), decoded strictly.

    Raises:
        ExportRejected: with the byte offset of the first undecodable sequence.
    """
    decoder = codecs.getincrementaldecoder(codec_for(encoding))(errors="strict")
    pending = ""
    offset = 0
    for chunk in _chunks_with_end(path):
        final = chunk is None
        data = b"" if chunk is None else chunk
        buffered = len(decoder.getstate()[0])
        try:
            text = decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:
            raise ExportRejected(
                f"bytes {exc.object[exc.start:exc.end]!r} are not valid {encoding}; "
                "the file is rejected whole (re-export it in the declared encoding)",
                file=str(path), offset=offset - buffered + exc.start,
            ) from None
        offset += len(data)
        pending += text
        if final:
            if pending:
                yield pending
            return
        lines = pending.split("\n")
        pending = lines.pop()
        for line in lines:
            yield line + "\n"


def _chunks_with_end(path: Path) -> Iterator[bytes | None]:
    yield from _chunks(path)
    yield None
