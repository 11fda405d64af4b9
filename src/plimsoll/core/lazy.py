"""Names a package re-exports, imported when first used rather than with the package.

`import plimsoll` (and so every CLI command, even `--help`) would otherwise pay for SQLAlchemy,
pandas and SciPy because a package's `__init__` gathers its modules' names. A package keeps its
imports under `TYPE_CHECKING` for the type checker and hands this the same table for run time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, modules_by_name: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` for `package` that imports `name` from its module on first use."""

    def __getattr__(name: str) -> Any:
        module = modules_by_name.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
