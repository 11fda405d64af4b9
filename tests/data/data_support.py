"""What the dataset tests share (imported by name): real files made and dated."""

from __future__ import annotations

import os
import time
from pathlib import Path

DATA = Path("/work/shared/data")


def settle(*paths: Path) -> None:
    """Date files (and everything under folders) 10 s back: the hash cache remembers only files
    not modified in the last 2 s (a later write in the same mtime tick would go unseen)."""
    past = time.time() - 10
    for path in paths:
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.utime(item, (past, past))


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root
