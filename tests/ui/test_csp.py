"""The web UI under its Content-Security-Policy, in a real browser: every page renders and runs its
scripts (charts drawn, the compare form works) without one violation, while a script injected
into a page is refused, which shows the policy is in force and not merely sent."""

from __future__ import annotations

from typing import Any

import pytest
from ui_support import Console, Seeded

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]

# Injected by the browser itself (not the page), so the policy does not apply to it: it records
# every violation the page reports.
# (Waits are written as functions, not expressions: Playwright evaluates an expression with `eval`,
# which the policy rightly refuses.)
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def _violations(page: Any) -> list[str]:
    return list(page.evaluate("window.__violations"))


def test_every_page_runs_under_the_policy_without_a_violation(page: Any, seeded: Seeded) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    run = seeded.run("tuned-lr")
    other = seeded.run("baseline")
    for path, charts in [
        ("/experiments", False),
        (f"/experiments/{seeded.experiment_id}", False),
        ("/runs", False),
        (f"/runs/{run.id}", True),
        (f"/compare?runs={run.id},{other.id}", True),
        ("/jobs", False),
    ]:
        response = page.goto(path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        if charts:  # the charts are drawn by /static/charts.js from the JSON API: scripts ran
            page.wait_for_function(
                "() => document.querySelectorAll(\"figure.chart[data-state='ready']\").length > 0"
            )
            assert page.locator("figure.chart[data-state='error']").count() == 0
            assert page.locator("figure.chart canvas").count() > 0  # uPlot drew
        assert _violations(page) == [], path
    # runs.js: ticking two runs enables the compare button.
    page.goto(f"/experiments/{seeded.experiment_id}")
    assert page.locator("#compare-button").is_disabled()
    page.check(f"input[name='runs'][value='{run.id}']")
    page.check(f"input[name='runs'][value='{other.id}']")
    assert page.locator("#compare-button").is_enabled()
    assert _violations(page) == []


def test_an_injected_inline_script_is_refused(page: Any, seeded: Seeded, console: Console) -> None:
    console.expected.append("Content Security Policy")
    console.expect_http_error = True  # the injected <img> asks for a missing picture
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"/runs/{seeded.run('tuned-lr').id}")
    # What an XSS would do: put a script element with inline code into the page.
    page.evaluate(
        """() => {
          window.__ran = false;
          const s = document.createElement("script");
          s.textContent = "window.__ran = true";
          document.body.appendChild(s);
          const d = document.createElement("div");
          d.innerHTML = '<img src="x" onerror="window.__ran = true">';
          document.body.appendChild(d);
        }"""
    )
    page.wait_for_function("() => window.__violations.length >= 2")
    assert page.evaluate("window.__ran") is False
    assert any(v.startswith("script-src") for v in _violations(page))
    # And a script from another host (what a CDN would be) is refused too.
    page.evaluate(
        """() => {
          const s = document.createElement("script");
          s.src = "https://cdn.example.invalid/x.js";
          document.body.appendChild(s);
        }"""
    )
    page.wait_for_function("() => window.__violations.some(v => v.includes('cdn.example.invalid'))")
