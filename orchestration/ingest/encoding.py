"""Landing files in the encodings CRMs export: UTF-8 (with or without BOM), UTF-16 and
Windows-1252 / Latin-1.

DuckDB reads UTF-8 only. A UTF-16 file, or one with lines that are not UTF-8, is first copied
into UTF-8, line for line (line numbers hold, and a quarantined row keeps its characters:
`Müller`, never `M?ller`). A file in another encoding - Cyrillic, Greek, CJK - is rejected
with the encoding named: reading it as Windows-1252 would load garbled names silently.
"""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SAMPLE_BYTES = 64 * 1024
# What charset-normalizer may see in a Western European export read as Windows-1252.
WESTERN_ALPHABETS = {
    "Basic Latin", "Latin-1 Supplement", "Latin Extended-A", "Latin Extended-B",
    "Latin Extended Additional", "Spacing Modifier Letters", "General Punctuation",
    "Currency Symbols", "Letterlike Symbols", "Control character",
}


class UnsupportedEncoding(ValueError):
    """The file is in an encoding the loader does not read (named in the message)."""


@dataclass(frozen=True)
class Utf8Copy:
    path: Path  # the UTF-8 file DuckDB reads
    encoding: str  # what the original was read as
    lines_not_utf8: int = 0  # lines of a mostly UTF-8 file read as Windows-1252


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when it is gzip."""
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def head(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    with open_binary(path) as fh:
        return fh.read(size)


def utf16_variant(sample: bytes) -> str | None:
    """'utf-16' (with a BOM), 'utf-16-le' / 'utf-16-be' (without one), or None."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    pairs = len(sample) // 2
    if pairs < 4:
        return None
    # Text in UTF-16 has a zero byte beside nearly every ASCII character.
    odd_zeros = sum(1 for i in range(1, 2 * pairs, 2) if sample[i] == 0)
    even_zeros = sum(1 for i in range(0, 2 * pairs, 2) if sample[i] == 0)
    if odd_zeros > 0.3 * pairs and even_zeros < 0.05 * pairs:
        return "utf-16-le"
    if even_zeros > 0.3 * pairs and odd_zeros < 0.05 * pairs:
        return "utf-16-be"
    return None


def is_utf8(sample: bytes) -> bool:
    """True when `sample` (possibly cut inside a character at its end) is UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def check_western(sample: bytes) -> None:
    """Raise UnsupportedEncoding unless non-UTF-8 bytes read as a Western European text."""
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise UnsupportedEncoding("not text in any encoding the loader knows (binary file?)")
    foreign = sorted(set(best.alphabets) - WESTERN_ALPHABETS)
    if foreign:
        raise UnsupportedEncoding(
            f"encoded as {best.encoding} ({', '.join(foreign)}"
            + (f"; {best.language}" if best.language and best.language != "Unknown" else "")
            + "): not UTF-8, UTF-16 or Windows-1252/Latin-1 - export it again as UTF-8")


def _decode_line(line: bytes) -> tuple[str, bool]:
    """A line as text, and whether it needed Windows-1252 (Latin-1 for its 5 holes)."""
    try:
        return line.decode("utf-8"), False
    except UnicodeDecodeError:
        try:
            return line.decode("cp1252"), True
        except UnicodeDecodeError:
            return line.decode("latin-1"), True


def utf8_copy(path: Path, into: Path, variant: str | None = None) -> Utf8Copy:
    """Write a UTF-8 copy of `path` in the folder `into`: from UTF-16 when `variant` says so,
    else line by line - UTF-8 where a line is, Windows-1252 where it is not."""
    target = into / (path.name.removesuffix(".gz") + ".utf8.csv")
    if variant:
        with open_binary(path) as src, target.open("w", encoding="utf-8", newline="") as dst:
            reader = codecs.getreader(variant)(src)
            for chunk in iter(lambda: reader.read(1 << 20), ""):
                dst.write(chunk.lstrip("\ufeff") if dst.tell() == 0 else chunk)
        return Utf8Copy(target, variant)
    fallback = 0
    with open_binary(path) as src, target.open("w", encoding="utf-8", newline="") as dst:
        for number, line in enumerate(src):
            text, windows = _decode_line(line)
            if number == 0:
                text = text.lstrip("\ufeff")
            fallback += windows
            dst.write(text)
    return Utf8Copy(target, "cp1252" if fallback else "utf-8", fallback)


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(physical line number, text without its line break) of every line, whatever the
    encoding (for the quarantine of a file that cannot be loaded at all)."""
    variant = utf16_variant(head(path))
    if variant:
        with open_binary(path) as src:
            for number, line in enumerate(codecs.getreader(variant)(src), start=1):
                yield number, line.lstrip("\ufeff").rstrip("\r\n")
        return
    with open_binary(path) as src:
        for number, line in enumerate(src, start=1):
            yield number, _decode_line(line)[0].rstrip("\r\n")
