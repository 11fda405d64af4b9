"""Artifact previews without a browser: which kind a file is, how much is read, what is shown, and
that nothing a file holds reaches the page as live markup."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from plimsoll.server.ui import previews
from plimsoll.server.ui.previews import MAX_COLUMNS, MAX_ROWS, build, bytes_to_read, kind_of


def whole(path: str, data: bytes) -> previews.Preview:
    return build(path, len(data), data, False)


def first(path: str, data: bytes) -> previews.Preview:
    """What a preview of `path` shows when the file is `data`: read as the route reads it."""
    limit = bytes_to_read(kind_of(path))
    return build(path, len(data), data[:limit], len(data) > limit)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("train.log", "text"),
        ("notes/README.md", "markdown"),
        ("REPORT.MARKDOWN", "markdown"),
        ("metrics.json", "json"),
        ("conf/params.yml", "yaml"),
        ("data/train.csv", "csv"),
        ("data/train.tsv", "csv"),
        ("data/part-0.parquet", "parquet"),
        ("plots/roc.PNG", "image"),
        ("plots/diagram.svg", "image"),
        ("plimsoll/environment.json", "environment"),
        ("plimsoll/git.diff", "diff"),
        ("fix.patch", "diff"),
        ("model/weights.bin", "unknown"),
        ("Makefile", "unknown"),
        (".env", "unknown"),
    ],
)
def test_kind_follows_the_name(path: str, kind: str) -> None:
    assert kind_of(path) == kind


def test_images_are_not_read_and_the_rest_is_read_in_bounded_amounts() -> None:
    assert bytes_to_read("image") == 0
    assert 0 < bytes_to_read("text") <= bytes_to_read("csv") <= bytes_to_read("parquet")


def test_text_is_shown_as_text_and_a_long_file_up_to_its_last_whole_line() -> None:
    assert whole("train.log", b"epoch 1\nepoch 2\n").text == "epoch 1\nepoch 2\n"
    line = b"loss=0.123456789\n"
    data = line * (bytes_to_read("text") // len(line) + 100)
    preview = first("train.log", data)
    assert preview.text is not None and preview.text.endswith("loss=0.123456789\n")
    assert len(preview.text) <= bytes_to_read("text")
    assert preview.notes == [f"Showing the first 256.0 KiB of {len(data) / 1024:.1f} KiB."]
    assert whole("train.log", b"short\n").notes == []


def test_a_file_without_a_known_extension_is_text_if_it_looks_like_text() -> None:
    assert whole("Makefile", b"all:\n\techo hi\n").kind == "text"
    cut_in_a_character = "é".encode() * 10 + "é".encode()[:1]
    assert whole("notes", cut_in_a_character).kind == "text"
    binary = whole("model/weights.bin", b"\x00weights\x01" * 10)
    assert binary.kind == "binary"
    assert binary.unavailable == "No preview for this kind of file."
    assert whole("blob", bytes(range(128, 256))).kind == "binary"


def test_markdown_is_rendered_and_raw_html_is_shown_as_text() -> None:
    source = b"""# Results

Some **bold** words and a [link](https://example.org/a).

<script>window.ran = true</script>

<img src=x onerror="window.ran = true">

[click](javascript:alert(1)) and ![tracker](https://example.org/pixel.png)

| lr | acc |
|----|-----|
| 0.1 | 0.92 |
"""
    html = str(whole("README.md", source).html)
    assert "<h2>Results</h2>" in html  # one level down: the page's title is the h1
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.org/a">link</a>' in html
    assert "<td>0.92</td>" in html
    assert "&lt;script&gt;window.ran = true&lt;/script&gt;" in html
    assert "<script" not in html and "<img" not in html  # no raw HTML, no remote images
    assert "javascript:" not in html.replace("[click](javascript:alert(1))", "")  # not made a link
    assert 'href="javascript' not in html


def test_json_is_pretty_printed_and_highlighted_into_css_classes() -> None:
    preview = whole("metrics.json", json.dumps({"acc": 0.92, "tags": ["a<b>"], "ok": True}).encode())
    html = str(preview.html)
    assert html.startswith('<div class="highlight"><pre>')
    assert '<span class="nt">"acc"</span>' in html
    assert '<span class="mf">0.92</span>' in html
    assert "a&lt;b&gt;" in html and "<b>" not in html
    assert "style=" not in html  # classes only: the CSP allows no inline style
    assert '\n<span class="w">  </span>' in html  # indented


def test_broken_or_long_json_is_shown_as_it_is() -> None:
    html = str(whole("x.json", b'{"a": [1,').html)
    assert (
        '<span class="nt">"a"</span><span class="p">:</span>' in html
        and '<span class="w">  </span>' not in html
    )


def test_yaml_is_highlighted_and_escaped() -> None:
    html = str(whole("params.yaml", b"lr: 0.1  # chosen\nname: '<script>'\n").html)
    assert '<span class="nt">lr</span>' in html
    assert '<span class="c1"># chosen</span>' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "style=" not in html


def test_csv_shows_the_first_rows_as_a_table() -> None:
    rows = "\n".join(f"{i},{i / 10},name {i}" for i in range(250))
    preview = whole("data/train.csv", f"step,value,label\n{rows}\n".encode())
    assert preview.table is not None
    assert preview.table.columns == ["step", "value", "label"]
    assert preview.table.rows[0] == ["0", "0.0", "name 0"]
    assert len(preview.table.rows) == MAX_ROWS
    assert preview.notes == [f"Showing the first {MAX_ROWS} of 250 rows."]
    tsv = whole("data/train.tsv", b"a\tb\n1\t2\n")
    assert tsv.table is not None and tsv.table.rows == [["1", "2"]] and tsv.notes == []


def test_a_large_csv_is_read_in_part_and_says_so() -> None:
    line = b"1,2,3," + b"x" * 200 + b"\n"
    data = b"a,b,c,d\n" + line * (bytes_to_read("csv") // len(line) + 10)
    preview = first("big.csv", data)
    assert preview.table is not None and len(preview.table.rows) == MAX_ROWS
    assert preview.notes == [f"Showing the first {MAX_ROWS} rows."]


def test_wide_tables_and_long_cells_are_cut() -> None:
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 5))
    preview = whole("wide.csv", f"{header}\n{'y' * 1000}\n".encode())
    assert preview.table is not None and len(preview.table.columns) == MAX_COLUMNS
    assert preview.table.rows[0][0] == "y" * 299 + "…"
    assert f"Showing the first {MAX_COLUMNS} of {MAX_COLUMNS + 5} columns." in preview.notes


def _parquet(rows: int) -> bytes:
    table = pa.table(
        {"step": list(range(rows)), "loss": [1 / (i + 1) for i in range(rows)], "split": ["train"] * rows}
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=50)
    return sink.getvalue()


def test_parquet_shows_its_first_rows_and_its_row_count() -> None:
    preview = whole("data/part-0.parquet", _parquet(250))
    assert preview.table is not None
    assert preview.table.columns == ["step", "loss", "split"]
    assert preview.table.rows[1] == ["1", "0.5", "train"]
    assert len(preview.table.rows) == MAX_ROWS
    assert preview.notes == [f"Showing the first {MAX_ROWS} of 250 rows."]
    assert whole("small.parquet", _parquet(3)).notes == []


def test_parquet_that_is_too_large_or_not_parquet_is_a_download() -> None:
    assert (
        build("big.parquet", 10**9, b"PAR1", True).unavailable
        == "Parquet files over 32.0 MiB are not previewed."
    )
    broken = whole("broken.parquet", b"not parquet at all")
    assert broken.table is None and broken.unavailable is not None
    assert broken.unavailable.startswith("Not readable as Parquet")


def test_images_are_shown_by_url_up_to_a_size() -> None:
    assert build("plot.svg", 1000, b"", False) == previews.Preview("image")
    assert build("huge.png", 10**9, b"", False).unavailable == "Images over 20.0 MiB are not shown."


def test_environment_shows_its_packages_and_the_document() -> None:
    document = {"python": "3.11.9", "packages": [{"name": "numpy", "version": "2.1.0"}]}
    preview = whole("plimsoll/environment.json", json.dumps(document).encode())
    assert preview.packages == [("numpy", "2.1.0")]
    assert "3.11.9" in str(preview.html)
    odd = whole("plimsoll/environment.json", b'{"packages": "none"}')
    assert odd.packages is None and "none" in str(odd.html)


def test_diff_lines_are_classified() -> None:
    preview = whole("plimsoll/git.diff", b"--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new <b>\n same\n")
    assert preview.diff is not None
    assert [line.kind for line in preview.diff] == ["file", "file", "hunk", "remove", "add", "context"]
    assert preview.diff[4].text == "+new <b>"  # text: the template escapes it
