"""How a stored file is offered for download: its media type and its file name.

The media type comes from a fixed list keyed by the name's extension, not from `mimetypes` (which
reads the host's /etc/mime.types): a file named `x.html` or `x.js` is a download of bytes
(`application/octet-stream`), never a type a browser would run as a page or a script from this
origin. SVG is listed because pages show it through `<img>`, where it cannot run scripts; opened
on its own it is still an attachment.
"""

from __future__ import annotations

from urllib.parse import quote

OCTET_STREAM = "application/octet-stream"

_TEXT = "text/plain; charset=utf-8"
MEDIA_TYPES = {
    ".txt": _TEXT,
    ".log": _TEXT,
    ".out": _TEXT,
    ".err": _TEXT,
    ".md": "text/markdown; charset=utf-8",
    ".markdown": "text/markdown; charset=utf-8",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".csv": "text/csv; charset=utf-8",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".diff": "text/x-diff; charset=utf-8",
    ".patch": "text/x-diff; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".gz": "application/gzip",
}
# Without parameters (charset), as an API description lists them.
ALL_MEDIA_TYPES = sorted({t.split(";")[0] for t in (OCTET_STREAM, *MEDIA_TYPES.values())})


def base_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def extension(path: str) -> str:
    """`.csv` for `data/Train.CSV`; empty when the base name has no dot (or only a leading one)."""
    name = base_name(path).lower()
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


def media_type(path: str) -> str:
    return MEDIA_TYPES.get(extension(path), OCTET_STREAM)


def content_disposition(path: str) -> str:
    """`attachment` with the base name (RFC 6266): `filename*` in UTF-8 for clients that read it,
    and an ASCII `filename` fallback (non-ASCII, quotes and backslashes replaced) for those that don't."""
    name = base_name(path)
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
