"""What a model's files would make Python do when loaded, found without loading them.

A pickle is a program: loading one imports whatever its GLOBAL and STACK_GLOBAL opcodes name and
calls it. `scan_pickle` reads the opcodes with `pickletools.genops` (nothing is executed) and lists
every import; those known to run commands, read files or evaluate code are `dangerous`. The list
is a tripwire, not a proof of safety (a denylist can always be walked around): a pickle is never
loaded unless a project admin marked its version trusted.

A skops file names the types it holds; `skops_types` lists those skops does not trust by default
(skops reads its schema, nothing is constructed). A version that needs any is loaded only once a
project admin approved that exact list.
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass
from typing import IO

from plimsoll.core.errors import InvalidParameter

# Modules whose import from a pickle means a command, a file, the network or code evaluation.
DANGEROUS_MODULES: frozenset[str] = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "socket",
        "shutil",
        "pty",
        "runpy",
        "importlib",
        "pickle",
        "_pickle",
        "marshal",
        "ctypes",
        "multiprocessing",
        "webbrowser",
        "code",
        "codeop",
        "pdb",
        "bdb",
        "signal",
        "_thread",
        "threading",
        "asyncio",
        "urllib",
        "http",
        "ftplib",
        "smtplib",
        "requests",
        "httpx",
        "urllib3",
        "pip",
        "setuptools",
        "tempfile",
        "pathlib",
        "io",
        "_io",
        "zipimport",
        "cProfile",
        "profile",
        "timeit",
        "trace",
        "dill",
        "cloudpickle",
        "numpy.testing",
        "numpy.f2py",
        "torch.hub",
    }
)
# Built-in functions that evaluate code, open files or reach any attribute.
DANGEROUS_BUILTINS: frozenset[str] = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "input",
        "breakpoint",
        "exit",
        "quit",
        "help",
    }
)
_BUILTIN_MODULES = frozenset({"builtins", "__builtin__", "__builtins__"})
UNRESOLVED = "<an import computed at load time>"
_STRING_OPS = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}
)
_MEMO_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


@dataclass(frozen=True)
class PickleScan:
    imports: tuple[str, ...]  # "module.name", sorted, each once
    dangerous: tuple[str, ...]  # those of `imports` on the denylist (or that could not be read)


def is_dangerous(name: str) -> bool:
    if name == UNRESOLVED:
        return True
    module, _, attribute = name.rpartition(".")
    if module in _BUILTIN_MODULES:
        return attribute in DANGEROUS_BUILTINS
    return any(module == m or module.startswith(m + ".") for m in DANGEROUS_MODULES)


def scan_pickle(stream: IO[bytes], name: str = "pickle") -> PickleScan:
    """The imports a pickle makes, read from its opcodes; InvalidParameter naming `name` if the
    stream is not a pickle."""
    found: set[str] = set()
    memo: dict[int, str | None] = {}
    # The stack the opcodes would build, keeping only strings (what STACK_GLOBAL takes its
    # module and name from); anything else is None. A mark is where a MARK left the stack.
    stack: list[str | None] = []
    marks: list[int] = []
    try:
        for opcode, argument, _ in pickletools.genops(stream):
            op = opcode.name
            if op == "MARK":
                marks.append(len(stack))
                continue
            if op in ("GLOBAL", "INST"):
                module, _, attribute = str(argument).partition(" ")
                found.add(f"{module}.{attribute}")
            elif op == "STACK_GLOBAL":
                pair = (stack[-2], stack[-1]) if len(stack) >= 2 else (None, None)
                found.add(f"{pair[0]}.{pair[1]}" if pair[0] and pair[1] else UNRESOLVED)
            elif op in ("EXT1", "EXT2", "EXT4"):
                found.add(UNRESOLVED)  # the copyreg extension registry: a name chosen where it loads
            elif op in _MEMO_PUTS:
                memo[int(str(argument))] = stack[-1] if stack else None
                continue
            elif op == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else None
                continue
            before = opcode.stack_before
            if pickletools.markobject in before:
                below = before.index(pickletools.markobject)
                del stack[marks.pop() if marks else 0 :]
                del stack[max(len(stack) - below, 0) :]
            elif before:
                del stack[max(len(stack) - len(before), 0) :]
            if op in _STRING_OPS:
                stack.append(argument if isinstance(argument, str) else None)
            elif op in _MEMO_GETS:
                stack.append(memo.get(int(str(argument))))
            else:
                stack.extend([None] * len(opcode.stack_after))
    except (ValueError, EOFError, IndexError, KeyError) as exc:
        raise InvalidParameter(name, f"is not a pickle that can be read ({exc})") from None
    imports = tuple(sorted(found))
    return PickleScan(imports, tuple(i for i in imports if is_dangerous(i)))


def refuse_dangerous(scan: PickleScan, name: str) -> None:
    if scan.dangerous:
        raise InvalidParameter(
            name,
            f"this pickle would import {', '.join(scan.dangerous)} when loaded, which can run commands, "
            "read files or evaluate code: it is refused. Save the model in a format that stores no "
            "code (a flavor other than python_function), or leave those imports out of the object",
        )


def skops_types(stream: IO[bytes], name: str = "model.skops") -> list[str]:
    """The types a skops file holds that skops does not trust by default, sorted."""
    import zipfile

    from skops.io import get_untrusted_types

    data = stream.read()
    try:
        return sorted(get_untrusted_types(data=data))
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise InvalidParameter(
            name, f"is not a skops file that can be read ({type(exc).__name__}: {exc})"
        ) from None
