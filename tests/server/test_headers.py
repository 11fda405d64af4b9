"""Security headers: a Content-Security-Policy, X-Frame-Options and nosniff on the web UI's pages,
nosniff on every answer; and templates the policy can hold (no inline script or style).

The browser's side (the pages run under the policy without a violation, and an injected inline
script is refused) is tests/ui/test_csp.py."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx

from plimsoll.server.headers import UI_POLICY
from plimsoll.server.testing import LiveServer

UI = Path(__file__).resolve().parents[2] / "src" / "plimsoll" / "server" / "ui"


def _directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def test_pages_carry_the_policy_and_every_answer_nosniff(sqlite_live_server: LiveServer) -> None:
    platform = sqlite_live_server.platform
    experiment = platform.tracking.create_experiment("e", actor="t")
    run = platform.tracking.create_run(experiment.id, actor="t")
    with httpx.Client(base_url=sqlite_live_server.url, timeout=10) as client:
        for path in ("/experiments", f"/experiments/{experiment.id}", "/runs", f"/runs/{run.id}",
                     f"/compare?runs={run.id}", "/jobs", "/runs/" + "0" * 32):  # fmt: skip
            page = client.get(path)
            assert page.headers["content-type"].startswith("text/html"), path
            policy = _directives(page.headers["content-security-policy"])
            assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"], path
            assert policy["default-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
            assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
            assert page.headers["x-frame-options"] == "DENY"
            assert page.headers["x-content-type-options"] == "nosniff"
            assert page.headers["referrer-policy"] == "same-origin"
        for path in ("/api/v1/experiments", "/static/app.css", "/healthz", "/api/v1/nowhere", "/metrics"):
            answer = client.get(path)
            assert answer.headers["x-content-type-options"] == "nosniff", path
            assert "content-security-policy" not in answer.headers, path  # not HTML: nothing to run
        refused = client.get("/healthz", headers={"Host": "evil.example"})
        assert refused.status_code == 421 and refused.headers["x-content-type-options"] == "nosniff"
    assert "'unsafe-inline'" not in UI_POLICY and "'unsafe-eval'" not in UI_POLICY and "http" not in UI_POLICY


def test_the_api_docs_pages_allow_exactly_their_own_inline_scripts(sqlite_live_server: LiveServer) -> None:
    with httpx.Client(base_url=sqlite_live_server.url, timeout=10) as client:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            page = client.get(path)
            assert page.status_code == 200, path
            script_src = _directives(page.headers["content-security-policy"])["script-src"]
            assert "'unsafe-inline'" not in script_src
            inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
            hashes = {
                f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline
            }
            assert hashes <= set(script_src), path
            assert {value for value in script_src if value.startswith("'sha256-")} == hashes, path
            assert page.headers["x-frame-options"] == "DENY"


def test_the_templates_hold_no_inline_script_style_or_handler() -> None:
    """What the policy refuses must not be in the UI: scripts come from /static, styles from app.css.
    A JSON data island (`<script type="application/json">`) is data the browser never runs."""
    offending = []
    for template in sorted((UI / "templates").glob("*.html")):
        text = template.read_text(encoding="utf-8")
        for pattern in (
            r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>",
            r"<style\b",
            r"\sstyle\s*=",
            r"\son[a-z]+\s*=",
            r"javascript:",
        ):
            offending += [f"{template.name}: {match}" for match in re.findall(pattern, text, re.IGNORECASE)]
    for script in sorted((UI / "static").glob("*.js")):
        text = script.read_text(encoding="utf-8")
        for pattern in (
            r"\beval\(",
            r"new Function\(",
            r"setAttribute\(\s*['\"]style",
            r"\.innerHTML\s*=.*style=",
        ):
            offending += [f"{script.name}: {match}" for match in re.findall(pattern, text)]
    assert offending == []
