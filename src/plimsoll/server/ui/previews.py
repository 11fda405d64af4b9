"""Artifact previews: what kind a file is, how much of it a preview reads, and what the page shows.

    kind_of(path)                        the preview kind, from the name (and the files the SDK records)
    bytes_to_read(kind)                  how many bytes of the file a preview reads (0: none)
    build(path, size, data, truncated)   the preview of those bytes

Everything that reaches the page as markup is made here and is safe by construction: Markdown is
rendered with raw HTML off (a `<script>` in it is shown as text) and without images (which would
load from other hosts); JSON and YAML are highlighted by Pygments into CSS classes (the CSP allows
no inline style). Images are not read at all: the page shows them through `<img>`, which never runs
an SVG's scripts. No HTTP here, and no I/O: the route reads the bytes.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from markdown_it import MarkdownIt
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import JsonLexer, YamlLexer

from plimsoll.core.downloads import extension
from plimsoll.server.ui import formatting
from plimsoll.server.ui.views import DiffLine, diff_line, environment_packages
from plimsoll.tracking.entities import DIFF_ARTIFACT, ENVIRONMENT_ARTIFACT

Kind = Literal[
    "text", "markdown", "json", "yaml", "csv", "parquet", "image", "environment", "diff", "unknown", "binary"
]

KIB = 1024
TEXT_BYTES = 256 * KIB
TABLE_BYTES = 1024 * KIB  # a CSV's first rows are well within this
PARQUET_BYTES = 32 * 1024 * KIB  # a Parquet file's footer is at its end: it is read whole, or not at all
CODE_BYTES = 1024 * KIB  # the environment and the git diff, as the run page reads them
IMAGE_BYTES = 20 * 1024 * KIB  # larger images are a download, not a preview
MAX_ROWS = 100
MAX_COLUMNS = 100
MAX_CELL_CHARS = 300

_EXTENSIONS: dict[str, Kind] = {
    **dict.fromkeys((".txt", ".log", ".out", ".err", ".text"), "text"),
    **dict.fromkeys((".md", ".markdown"), "markdown"),
    ".json": "json",
    **dict.fromkeys((".yaml", ".yml"), "yaml"),
    **dict.fromkeys((".csv", ".tsv"), "csv"),
    ".parquet": "parquet",
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"), "image"),
    **dict.fromkeys((".diff", ".patch"), "diff"),
}
_READ: dict[Kind, int] = {
    "text": TEXT_BYTES,
    "markdown": TEXT_BYTES,
    "json": TEXT_BYTES,
    "yaml": TEXT_BYTES,
    "unknown": TEXT_BYTES,  # read, then shown as text if it looks like text
    "csv": TABLE_BYTES,
    "parquet": PARQUET_BYTES,
    "environment": CODE_BYTES,
    "diff": CODE_BYTES,
    "image": 0,
    "binary": 0,
}

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"]).disable("image")
_highlighted = HtmlFormatter(cssclass="highlight")


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Preview:
    kind: Kind
    text: str | None = None  # shown as is, in <pre>
    html: Markup | None = None  # rendered Markdown or highlighted code, safe as made here
    table: Table | None = None
    diff: list[DiffLine] | None = None
    packages: list[tuple[str, str]] | None = None
    notes: list[str] = field(default_factory=list)  # "Showing the first …"
    unavailable: str | None = None  # why there is nothing to show but a download link


def kind_of(path: str) -> Kind:
    if path == ENVIRONMENT_ARTIFACT:
        return "environment"
    if path == DIFF_ARTIFACT:
        return "diff"
    return _EXTENSIONS.get(extension(path), "unknown")


def bytes_to_read(kind: Kind) -> int:
    return _READ[kind]


def build(path: str, size: int, data: bytes, truncated: bool) -> Preview:
    """The preview of `data`, the first bytes (all of them unless `truncated`) of a file of `size`
    bytes named `path`."""
    kind = kind_of(path)
    if kind == "image":
        if size > IMAGE_BYTES:
            return Preview(kind, unavailable=f"Images over {formatting.filesize(IMAGE_BYTES)} are not shown.")
        return Preview(kind)
    if kind == "parquet":
        return _parquet(data, truncated)
    if kind == "unknown":
        if not _looks_like_text(data):
            return Preview("binary", unavailable="No preview for this kind of file.")
        kind = "text"
    text = _decoded(data, truncated)
    notes = [_bytes_note(bytes_to_read(kind), size)] if truncated else []
    if kind == "csv":
        return _csv(text, truncated, delimiter="\t" if extension(path) == ".tsv" else ",")
    if kind == "markdown":
        return Preview(kind, html=_render_markdown(text), notes=notes)
    if kind == "json":
        return Preview(
            kind, html=_highlight(text if truncated else _pretty_json(text), JsonLexer()), notes=notes
        )
    if kind == "yaml":
        return Preview(kind, html=_highlight(text, YamlLexer()), notes=notes)
    if kind == "diff":
        return Preview(kind, diff=[diff_line(line) for line in text.splitlines()], notes=notes)
    if kind == "environment":
        return _environment(text, truncated, notes)
    return Preview("text", text=text, notes=notes)


def _bytes_note(read: int, size: int) -> str:
    return f"Showing the first {formatting.filesize(read)} of {formatting.filesize(size)}."


def _looks_like_text(data: bytes) -> bool:
    head = data[: 8 * KIB]
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # only a character cut at the end of what was read
    return True


def _decoded(data: bytes, truncated: bool) -> str:
    """Text of the bytes read; when they are the start of a longer file, up to the last whole line
    (and never a character cut in two)."""
    if truncated:
        newline = data.rfind(b"\n")
        if newline > 0:
            data = data[: newline + 1]
    return data.decode("utf-8", errors="replace")


def _render_markdown(text: str) -> Markup:
    """The document's headings one level down: the page's own title is its only h1."""
    tokens = _markdown.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    return Markup(_markdown.renderer.render(tokens, _markdown.options, {}))


def _highlight(text: str, lexer: Any) -> Markup:
    return Markup(highlight(text, lexer, _highlighted))  # Pygments escapes the text it wraps


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text  # shown as it is: highlighting copes with broken JSON


def _environment(text: str, truncated: bool, notes: list[str]) -> Preview:
    packages = None
    if not truncated:
        try:
            packages = environment_packages(json.loads(text))
        except ValueError:
            packages = None
    html = _highlight(text if truncated else _pretty_json(text), JsonLexer())
    return Preview("environment", html=html, packages=packages, notes=notes)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _table_notes(shown_rows: int, total_rows: int | None, columns: int) -> list[str]:
    notes = []
    if total_rows is None:
        notes.append(f"Showing the first {shown_rows} rows.")
    elif total_rows > shown_rows:
        notes.append(f"Showing the first {shown_rows} of {total_rows:,} rows.")
    if columns > MAX_COLUMNS:
        notes.append(f"Showing the first {MAX_COLUMNS} of {columns:,} columns.")
    return notes


def _csv(text: str, truncated: bool, delimiter: str) -> Preview:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader, [])
        rows: list[list[str]] = []
        total = 0
        for row in reader:
            total += 1
            if len(rows) < MAX_ROWS:
                rows.append([_cell(value) for value in row[:MAX_COLUMNS]])
            elif truncated:
                break
    except csv.Error as exc:
        return Preview("text", text=text, notes=[f"Shown as text: not readable as CSV ({exc})."])
    table = Table([_cell(name) for name in header[:MAX_COLUMNS]], rows)
    shown = len(rows)
    notes = _table_notes(shown, None if truncated else total, len(header))
    if truncated and shown < MAX_ROWS:
        notes = [f"Showing the {shown} rows in the first {formatting.filesize(TABLE_BYTES)}."]
    return Preview("csv", table=table, notes=notes)


def _parquet(data: bytes, truncated: bool) -> Preview:
    if truncated:
        return Preview(
            "parquet",
            unavailable=f"Parquet files over {formatting.filesize(PARQUET_BYTES)} are not previewed.",
        )
    import pyarrow as pa  # only this preview needs it, and it takes a while to import
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        names = parquet.schema_arrow.names
        columns = names[:MAX_COLUMNS]
        batch = next(parquet.iter_batches(batch_size=MAX_ROWS, columns=columns), None)
    except (pa.ArrowException, OSError, ValueError) as exc:
        return Preview("parquet", unavailable=f"Not readable as Parquet: {exc}")
    records = [] if batch is None else batch.to_pylist()
    rows = [[_cell(record[name]) for name in columns] for record in records]
    notes = _table_notes(len(rows), parquet.metadata.num_rows, len(names))
    return Preview("parquet", table=Table(columns, rows), notes=notes)
