"""The vendored browser libraries are exactly the pinned releases, each with its licence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from plimsoll.server.ui.pages import STATIC_DIR

VENDOR = STATIC_DIR / "vendor"


def test_every_vendored_file_is_the_one_recorded_with_its_licence() -> None:
    manifest = json.loads((VENDOR / "vendor.json").read_text())
    recorded: set[str] = set()
    for library in manifest["libraries"]:
        assert library["version"].count(".") == 2, f"{library['package']}: pin an exact version"
        files = library["sha256"]
        for licence in library["licenses"]:
            assert f"{library['package']}/{Path(licence).name}" in files
        for name, digest in files.items():
            assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, (
                f"{name} differs from {library['package']} {library['version']}: "
                "re-run scripts/vendor_ui.py instead of editing it"
            )
        recorded |= set(files)
    on_disk = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}
    assert on_disk - {"vendor.json"} == recorded, "a vendored file is not in vendor.json"
