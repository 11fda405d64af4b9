"""Files and folders the platform creates on disk: readable by their owner only unless configured.

The metadata database (SQLite), the blobs and the audit key hold everything the platform knows; on
a shared host, another account must not read them. Files are created with `file_mode` (0600 by
default, `PLIMSOLL_FILE_MODE`), and the folders we create for them with the matching directory mode
(a read bit gives the execute bit beside it: 0600 -> 0700, 0640 -> 0750). The mode is set
explicitly after creation, so the process's umask neither widens nor narrows it. What already
exists is left as it is: an operator's own choice for a folder wins.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE_MODE = 0o600


def dir_mode_for(file_mode: int) -> int:
    """The mode of a folder holding files of `file_mode`: whoever may read may also enter."""
    return file_mode | ((file_mode & 0o444) >> 2)


def make_dirs(path: str | os.PathLike[str], file_mode: int = PRIVATE_FILE_MODE) -> Path:
    """Create `path` and any missing parents with the folder mode for `file_mode`; folders that
    exist already keep theirs."""
    target = Path(path)
    missing: list[Path] = []
    current = target
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    mode = dir_mode_for(file_mode)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=mode)
        except FileExistsError:
            continue  # made by another process meanwhile: theirs, with the same mode
        os.chmod(folder, mode)
    return target


def create_file(path: str | os.PathLike[str], file_mode: int = PRIVATE_FILE_MODE) -> bool:
    """Create an empty file with exactly `file_mode` unless it exists; True if this call made it."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, file_mode)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, file_mode)
    finally:
        os.close(fd)
    return True


def parse_file_mode(text: str) -> int:
    """`"600"`, `"0600"` or `"0o640"` as a mode; ValueError unless it is octal, holds only read and
    write bits, and lets the owner read and write (the platform itself must)."""
    digits = text.strip().lower().removeprefix("0o")
    mode = int(digits, 8)
    if mode & ~0o666 or mode & 0o600 != 0o600:
        raise ValueError(text)
    return mode
