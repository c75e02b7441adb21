"""Minimal 8-bit greyscale PNG writer (zlib + struct), so the data-set writer needs no imaging library."""
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_grey_png(path: str, pixels) -> None:
    """pixels: a 2-D uint8 array-like (rows of ints 0..255)."""
    rows = [bytes(row) for row in pixels]
    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + row for row in rows)   # filter type 0 (None) on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)   # 8-bit, colour type 0 (grey)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))
