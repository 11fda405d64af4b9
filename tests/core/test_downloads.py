"""What a download is called and typed: the base name in both RFC 6266 forms, and a media type from
a fixed list that never names a type a browser would run."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from plimsoll.core.downloads import ALL_MEDIA_TYPES, OCTET_STREAM, content_disposition, media_type


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("data/train.csv", "text/csv; charset=utf-8"),
        ("plots/ROC.PNG", "image/png"),
        ("plots/diagram.svg", "image/svg+xml"),
        ("logs/train.log", "text/plain; charset=utf-8"),
        ("metrics.json", "application/json"),
        ("data/part-0.parquet", "application/vnd.apache.parquet"),
        ("model/weights.bin", OCTET_STREAM),
        ("report.html", OCTET_STREAM),
        ("app.js", OCTET_STREAM),
        ("page.xhtml", OCTET_STREAM),
        ("Makefile", OCTET_STREAM),
        (".csv", OCTET_STREAM),  # a hidden file named ".csv", not a CSV
    ],
)
def test_media_type_follows_the_extension_from_a_fixed_list(path: str, expected: str) -> None:
    assert media_type(path) == expected


def test_no_listed_type_is_one_a_browser_runs() -> None:
    runnable = ("html", "javascript", "ecmascript", "xhtml", "xml")
    assert not [t for t in ALL_MEDIA_TYPES if any(word in t for word in runnable) and t != "image/svg+xml"]


def test_content_disposition_names_the_base_name_in_both_forms() -> None:
    assert content_disposition("model/weights.bin") == (
        "attachment; filename=\"weights.bin\"; filename*=UTF-8''weights.bin"
    )
    header = content_disposition('reports/résumé "final"; v=1.txt')
    fallback, encoded = header.split("; filename*=UTF-8''")
    assert fallback == 'attachment; filename="r_sum_ _final_; v=1.txt"'
    assert unquote(encoded) == 'résumé "final"; v=1.txt'
    assert all(c.isalnum() or c in "%-._~" for c in encoded)  # nothing a header parser could misread
