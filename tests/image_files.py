"""Small image files for tests of image folders: real PNGs, and broken ones of the kinds users have."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path


def write_png(path: Path, side: int = 4, value: int = 128) -> Path:
    """A readable ``side`` × ``side`` gray PNG."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (side, side), value).save(path)
    return path


def image_folder(root: Path, per_class: int = 3, classes=("a", "b")) -> Path:
    """``root/<class>/<k>.png``, ``per_class`` readable images in each class."""
    for name in classes:
        for k in range(per_class):
            write_png(root / name / f"{k}.png", value=40 + 60 * k)
    return root


def write_undecodable_png(path: Path) -> Path:
    """A PNG whose chunks and checksums are intact (it opens, and PIL's verify() passes) but whose pixel data is no
    zlib stream: only decoding it fails, as a file damaged inside its data does."""
    buffer = io.BytesIO()
    from PIL import Image

    Image.new("L", (4, 4), 128).save(buffer, format="PNG")
    data, out, at = buffer.getvalue(), [buffer.getvalue()[:8]], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"IDAT":
            body = b"not zlib" * 4
        out.append(struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", zlib.crc32(kind + body)))
        at += 12 + length
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(out))
    return path
