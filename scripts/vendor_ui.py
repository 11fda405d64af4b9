"""Fetch the web UI's third-party browser libraries from the npm registry into the package.

The UI has no build step and loads nothing from a CDN: the libraries it uses are files in
`src/plimsoll/server/ui/static/vendor/`, each with its licence, at the exact versions pinned in
`vendor.json` beside them. To add or upgrade one, edit its entry (package, version, files) and run

    .venv/bin/python scripts/vendor_ui.py

which runs `npm pack` for each entry, copies the listed files and the licence files, and writes
each file's SHA-256 back into `vendor.json`. `tests/ui/test_vendor.py` checks that the files on disk
are the ones recorded there, so a vendored file is never edited by hand.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

VENDOR = Path(__file__).resolve().parents[1] / "src" / "plimsoll" / "server" / "ui" / "static" / "vendor"
MANIFEST = VENDOR / "vendor.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(entry: dict[str, Any], scratch: Path) -> dict[str, str]:
    spec = f"{entry['package']}@{entry['version']}"
    done = subprocess.run(
        ["npm", "pack", spec, "--silent"], cwd=scratch, capture_output=True, text=True, check=True
    )
    archive = scratch / done.stdout.strip().splitlines()[-1]
    unpacked = scratch / str(entry["package"])
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    root = unpacked / "package"
    target = VENDOR / str(entry["package"])
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    hashes: dict[str, str] = {}
    names = [*entry["files"], *entry["licenses"]]
    for name in names:
        source = root / name
        dest = target / Path(name).name
        shutil.copyfile(source, dest)
        hashes[dest.relative_to(VENDOR).as_posix()] = sha256(dest)
    return hashes


def main() -> int:
    manifest = json.loads(MANIFEST.read_text())
    with tempfile.TemporaryDirectory(prefix="plimsoll-vendor-") as tmp:
        for entry in manifest["libraries"]:
            entry["sha256"] = fetch(entry, Path(tmp))
            print(f"{entry['package']} {entry['version']}: {len(entry['sha256'])} files")
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
