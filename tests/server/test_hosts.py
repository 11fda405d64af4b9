"""DNS rebinding: the server answers only to the host names it was started for.

A page on `evil.example` that rebinds its name to 127.0.0.1 sends `Host: evil.example`; the server
refuses that with 421 before anything else runs, so the page cannot create a user or a token
(which would still be valid once the server is restarted with --auth)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from plimsoll.cli.main import build_cli
from plimsoll.core.config import Settings
from plimsoll.core.errors import InvalidParameter
from plimsoll.platform import Platform
from plimsoll.server.hosts import AllowedHosts, host_name, is_loopback
from plimsoll.server.testing import LiveServer


def _refused(answer: httpx.Response) -> str:
    assert answer.status_code == 421, answer.text
    error = answer.json()["error"]
    assert error["code"] == "MISDIRECTED_REQUEST"
    return str(error["message"])


def test_a_rebound_name_cannot_drive_the_api(sqlite_live_server: LiveServer) -> None:
    platform = sqlite_live_server.platform
    with httpx.Client(base_url=sqlite_live_server.url, timeout=10) as browser:
        rebound = {"Host": "evil.example:8765", "Origin": "http://evil.example:8765"}
        message = _refused(
            browser.post("/api/v1/users", json={"name": "mallory", "is_admin": True}, headers=rebound)
        )
        assert "'evil.example:8765'" in message and "--allowed-hosts" in message
        _refused(browser.post("/api/v1/users/mallory/tokens", json={}, headers=rebound))
        _refused(browser.get("/experiments", headers={"Host": "evil.example"}))
        _refused(browser.get("/healthz", headers={"Host": "attacker.test"}))
        # The loopback names, with any port (and any case, and a trailing dot), are the server's own.
        for host in (
            "127.0.0.1",
            "localhost:1234",
            "LOCALHOST.",
            "[::1]:8765",
            f"127.0.0.1:{sqlite_live_server.port}",
        ):
            assert browser.get("/api/v1/experiments", headers={"Host": host}).status_code == 200, host
        # Look-alikes of a loopback name are not.
        for host in (
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "localhost:80:80",
            "localhost:²".encode("latin-1"),
        ):
            _refused(browser.get("/api/v1/experiments", headers={"Host": host}))
    assert platform.auth.list_users() == []


def test_a_request_without_a_host_header_is_refused(sqlite_live_server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", sqlite_live_server.port), timeout=10) as sock:
        sock.sendall(b"GET /api/v1/experiments HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 421"), answer[:200]
    assert b"MISDIRECTED_REQUEST" in answer


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[LiveServer]:
    platform = Platform(
        home=tmp_path / ".plimsoll",
        allowed_hosts=("plimsoll.example.com", "*.corp.example", "10.0.0.7", "::2"),
    ).startup()
    server = LiveServer(platform)
    try:
        yield server
    finally:
        server.stop()
        platform.close()


def test_allowed_hosts_are_the_configured_names_and_loopback(configured: LiveServer) -> None:
    with httpx.Client(base_url=configured.url, timeout=10) as client:
        for host in ("plimsoll.example.com", "plimsoll.example.com:443", "a.corp.example", "b.a.corp.example:1",
                     "10.0.0.7:8765", "[::2]", "localhost", "127.0.0.1:9"):  # fmt: skip
            assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
        for host in ("corp.example", "evilcorp.example", "plimsoll.example.com.evil.example", "10.0.0.8"):
            _refused(client.get("/healthz", headers={"Host": host}))


def test_a_star_answers_to_any_name(tmp_path: Path) -> None:
    platform = Platform(home=tmp_path / ".plimsoll", allowed_hosts=("*",)).startup()
    server = LiveServer(platform)
    try:
        answer = httpx.get(server.url + "/healthz", headers={"Host": "anything.example"}, timeout=10)
        assert answer.status_code == 200
    finally:
        server.stop()
        platform.close()


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("example.com:8080", "without a port"),
        ("", "empty host name"),
        ("a*.example.com", "wildcard"),
        ("http://example.com", "without a port"),
        ("[nope]", "not an IPv6 address"),
        ("exa mple.com", "not a host name"),
    ],
)
def test_a_bad_allowed_host_is_refused_naming_the_setting(entry: str, words: str) -> None:
    with pytest.raises(InvalidParameter, match=words) as caught:
        AllowedHosts.parse([entry])
    assert caught.value.field == "allowed_hosts"


def test_the_setting_and_the_host_helpers() -> None:
    assert Settings.from_env({"PLIMSOLL_ALLOWED_HOSTS": " a.example , *.b.example,"}).allowed_hosts == (
        "a.example",
        "*.b.example",
    )
    assert Settings.from_env({}).allowed_hosts is None
    assert host_name("[::1]:80") == "[::1]" and host_name("Example.COM.:8") == "example.com"
    assert host_name("a:b") is None and host_name("[::1") is None and host_name("") is None
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.10", "::1", "localhost", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com"))


def test_the_server_command_wants_allowed_hosts_off_loopback(tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path / ".plimsoll")]
    result = runner.invoke(build_cli(), ["server", "--host", "0.0.0.0", *home])
    assert result.exit_code == 2, result.output
    assert "--allowed-hosts" in result.output
    result = runner.invoke(build_cli(), ["server", "--allowed-hosts", "a.example:80", *home])
    assert result.exit_code == 2, result.output
    assert "allowed_hosts" in result.output and "without a port" in result.output


def test_cli_and_sdk_clients_on_loopback_still_work(sqlite_live_server: LiveServer) -> None:
    from plimsoll.client import Client

    for name, url in [
        ("ip", sqlite_live_server.url),
        ("name", f"http://localhost:{sqlite_live_server.port}"),
    ]:
        with Client(url) as client:
            created: Any = client.create_experiment(f"e-{name}")
            assert created.name == f"e-{name}"
