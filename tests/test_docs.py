"""Every Python and shell block of README.md and docs/*.md runs as written, in a scratch folder.

What runs: fenced blocks whose language is `python`, `sh`, `bash` or `shell` (others, such as
`text`, `json` or `console` transcripts, are read, not run). One test per block, so a skip and its
reason show in pytest's summary. The line just before a fence may hold a marker:

- `<!-- docs-test: skip (reason) -->`: not run; pytest reports the skip with that reason.
- `<!-- docs-test: background -->`: a command that keeps running (a server): started, checked to
  answer `GET /healthz` while still alive, then stopped with its whole process group. It gets a
  free port: `8765` in the block and the `PORT` variable (`make serve PORT=...`) are set to it, so
  it never meets a server already running on the machine.

How blocks of one file share state: the file is a session, as a reader pasting it would have.
Each file gets a fresh scratch folder (the working directory of all its blocks) and one Python
interpreter: its Python blocks run in that interpreter in document order, in one namespace, so a
block sees the names an earlier one defined; shell blocks run in between, in document order, each
in its own `bash -e -o pipefail` (an `export` does not carry to the next block). A block run alone
(`-k`) first runs the file's earlier blocks, so it sees the state it would have seen. A failure
names the block by its line in the .md; a Python traceback shows lines of the .md itself.

Environment: no `PLIMSOLL_*` variable except `PLIMSOLL_HOME=<scratch>/.plimsoll` (the default
place, so the SDK and the CLI share it); `.venv/bin` first on PATH, so `plimsoll` and `python` are
this checkout's. `make` in a block means this checkout's Makefile: it runs as `make -C <checkout>`
(a small `make` first on PATH), while the data of what it starts stays in the scratch folder.
A block that runs `make test` or `make pytest` would run this test again: it must be marked skip.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUN_LANGUAGES = {"python": "python", "sh": "shell", "bash": "shell", "shell": "shell"}
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
SKIP = re.compile(r"^skip\s*\((.+)\)$")
RECURSIVE = re.compile(r"\bmake\b[^\n#]*\b(test|pytest)\b")
BLOCK_TIMEOUT_S = 120
SERVER_START_TIMEOUT_S = 60

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Block:
    doc: str  # the file, relative to the checkout
    line: int  # of the opening fence, 1-based
    language: str  # "python" or "shell"
    code: str
    mode: str  # "run", "skip" or "background"
    reason: str = ""

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    """The runnable blocks of one Markdown file with their markers; a malformed marker is an error."""
    doc = str(path.relative_to(REPO))
    lines = path.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = next((i for i in range(index + 1, len(lines)) if lines[i].startswith("```")), len(lines))
        language = RUN_LANGUAGES.get(opening.group(1).lower())
        if language is not None:
            mode, reason = _marker(lines[index - 1] if index else "", f"{doc}:{index + 1}")
            code = "\n".join(lines[index + 1 : end]) + "\n"
            found.append(Block(doc, index + 1, language, code, mode, reason))
        index = end + 1
    return found


def _marker(line: str, where: str) -> tuple[str, str]:
    marker = MARKER.match(line)
    if marker is None:
        return "run", ""
    text = marker.group(1)
    if text == "background":
        return "background", ""
    skip = SKIP.match(text)
    if skip is None:
        raise ValueError(f"{where}: unknown docs-test marker {text!r}; use 'skip (reason)' or 'background'")
    return "skip", skip.group(1)


ALL_BLOCKS = [block for path in DOC_FILES for block in blocks_of(path)]


def _param(block: Block) -> object:
    marks = [pytest.mark.xdist_group(f"docs:{block.doc}")]
    if block.mode == "skip":
        marks.append(pytest.mark.skip(reason=f"{block.where}: {block.reason}"))
    return pytest.param(block, id=f"{block.where}-{block.language}", marks=marks)


# -- a file's session: its scratch folder, its environment, its Python interpreter -----------------

# Runs the file's Python blocks in one namespace. stdin carries the blocks, one JSON object a line;
# the answers go back on the pipe whose fd is argv[1]; what the blocks print goes to the log file.
DRIVER = r"""
import json, os, sys, traceback
answers = os.fdopen(int(sys.argv[1]), "w")
os.dup2(2, 1)
namespace = {"__name__": "__main__"}
for message in sys.stdin:
    block = json.loads(message)
    sys.stderr.write(f"\n--- {block['doc']}:{block['line']} (python)\n")
    try:
        exec(compile("\n" * block["line"] + block["code"], block["doc"], "exec"), namespace)
        answer = {"ok": True}
    except BaseException:
        answer = {"ok": False, "error": traceback.format_exc()}
    sys.stdout.flush()
    answers.write(json.dumps(answer) + "\n")
    answers.flush()
"""


@dataclass
class Session:
    doc: str
    scratch: Path
    env: dict[str, str]
    done: set[int] = field(default_factory=set)  # lines of the blocks already run
    failed: str = ""
    python: subprocess.Popen[bytes] | None = None
    answers: int = -1
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.scratch.parent / f"{self.scratch.name}.log"

    def run(self, block: Block) -> None:
        if block.mode == "background":
            self._background(block)
        elif block.language == "python":
            self._python(block)
        else:
            self._shell(block)

    def _shell(self, block: Block) -> None:
        with self.log.open("ab") as log:
            log.write(f"\n--- {block.where} (shell)\n".encode())
            log.flush()
            done = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", block.code],
                cwd=self.scratch,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=BLOCK_TIMEOUT_S,
            )
        if done.returncode != 0:
            raise BlockFailed(block, f"exit status {done.returncode}\n{self._log_tail()}")

    def _python(self, block: Block) -> None:
        if self.python is None:
            read_end, write_end = os.pipe()
            with self.log.open("ab") as log:
                self.python = subprocess.Popen(
                    [str(REPO / ".venv" / "bin" / "python"), "-c", DRIVER, str(write_end)],
                    cwd=self.scratch,
                    env=self.env,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(write_end,),
                )
            os.close(write_end)
            self.answers = read_end
        assert self.python.stdin is not None
        message = {"doc": block.doc, "line": block.line, "code": block.code}
        self.python.stdin.write((json.dumps(message) + "\n").encode())
        self.python.stdin.flush()
        ready, _, _ = select.select([self.answers], [], [], BLOCK_TIMEOUT_S)
        if not ready:
            raise BlockFailed(block, f"no answer within {BLOCK_TIMEOUT_S} s\n{self._log_tail()}")
        line = b""
        while not line.endswith(b"\n"):
            chunk = os.read(self.answers, 65536)
            if not chunk:
                raise BlockFailed(block, f"the interpreter ended\n{self._log_tail()}")
            line += chunk
        answer = json.loads(line)
        if not answer["ok"]:
            raise BlockFailed(block, f"{answer['error']}\nOutput:\n{self._log_tail()}")

    def _background(self, block: Block) -> None:
        port = _free_port()
        env = {**self.env, "PORT": str(port), "HOST": "127.0.0.1"}
        with self.log.open("ab") as log:
            log.write(f"\n--- {block.where} (background, port {port})\n".encode())
            log.flush()
            process = subprocess.Popen(
                ["bash", "-e", "-c", block.code.replace("8765", str(port))],
                cwd=self.scratch,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_until_answering(process, port, block, self)
        finally:
            _stop(process)

    def close(self) -> None:
        if self.python is not None:
            assert self.python.stdin is not None
            self.python.stdin.close()  # the interpreter exits, sending what the SDK still holds
            try:
                self.python.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.python.kill()
                self.python.wait()
            os.close(self.answers)

    def _log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class BlockFailed(Exception):
    def __init__(self, block: Block, detail: str) -> None:
        self.block = block
        super().__init__(f"the {block.language} block at {block.where} failed: {detail}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_answering(
    process: subprocess.Popen[bytes], port: int, block: Block, session: Session
) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BlockFailed(block, f"ended with status {process.returncode}\n{session._log_tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise BlockFailed(block, f"did not answer on port {port} within {SERVER_START_TIMEOUT_S} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue


def _environment(scratch: Path, tools: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PLIMSOLL_")}
    for inherited in ("PYTHONPATH", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(inherited, None)  # as in a reader's fresh terminal, not inside `make pytest`
    env["PLIMSOLL_HOME"] = str(scratch / ".plimsoll")
    env["VIRTUAL_ENV"] = str(REPO / ".venv")
    env["PATH"] = os.pathsep.join([str(tools), str(REPO / ".venv" / "bin"), env.get("PATH", "")])
    return env


def _make_shim(tools: Path) -> None:
    real_make = shutil.which("make") or "/usr/bin/make"
    tools.mkdir(parents=True, exist_ok=True)
    shim = tools / "make"
    shim.write_text(f'#!/bin/sh\nexec "{real_make}" -C "{REPO}" "$@"\n')
    shim.chmod(0o755)


@pytest.fixture(scope="module")
def sessions() -> Iterator[dict[str, Session]]:
    opened: dict[str, Session] = {}
    yield opened
    for session in opened.values():
        session.close()


@pytest.mark.parametrize("block", [_param(block) for block in ALL_BLOCKS])
def test_block_runs_as_written(
    block: Block, sessions: dict[str, Session], tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert not (block.mode != "skip" and RECURSIVE.search(block.code)), (
        f"{block.where} runs the test suite, which runs this test: mark it <!-- docs-test: skip (reason) -->"
    )
    session = sessions.get(block.doc)
    if session is None:
        base = tmp_path_factory.mktemp(re.sub(r"\W", "-", block.doc))
        _make_shim(base / "tools")
        scratch = base / "scratch"
        scratch.mkdir()
        session = sessions[block.doc] = Session(block.doc, scratch, _environment(scratch, base / "tools"))
    if session.failed:
        pytest.fail(f"not run: the block at {session.failed} of the same file failed before it")
    earlier = [b for b in ALL_BLOCKS if b.doc == block.doc and b.line < block.line and b.mode != "skip"]
    try:
        for needed in [*(b for b in earlier if b.line not in session.done), block]:
            session.run(needed)
            session.done.add(needed.line)
    except BlockFailed as failure:
        session.failed = failure.block.where
        pytest.fail(str(failure), pytrace=False)


def test_every_doc_file_is_read() -> None:
    """The docs test reads the files it should: the README and every page of docs/."""
    assert REPO / "README.md" in DOC_FILES
    assert {path.name for path in DOC_FILES} >= {"README.md", "architecture.md", "sdk.md"}
    assert any(block.doc == "README.md" and block.mode == "run" for block in ALL_BLOCKS)


def test_a_malformed_marker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown docs-test marker 'skipped'"):
        _marker("<!-- docs-test: skipped -->", "x.md:3")
    assert _marker("<!-- docs-test: skip (needs S3) -->", "x.md:3") == ("skip", "needs S3")
    assert _marker("<!-- docs-test: background -->", "x.md:3") == ("background", "")
    assert _marker("some prose", "x.md:3") == ("run", "")


if __name__ == "__main__":  # a listing of the blocks and what happens to each
    for listed in ALL_BLOCKS:
        print(f"{listed.where:30} {listed.language:7} {listed.mode:10} {listed.reason}", file=sys.stdout)
