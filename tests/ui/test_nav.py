"""The navigation is what the descriptors bring and nothing else: sections in `NAV_SECTIONS`
order, a section with no entry left out, a section outside that list after the known ones."""

from __future__ import annotations

from plimsoll.capabilities import ALL
from plimsoll.core.capability import Capability, NavItem
from plimsoll.server.ui.nav import build_nav


def test_the_navigation_lists_exactly_the_descriptors_entries() -> None:
    nav = build_nav(ALL)
    shown = [item for section in nav for item in section.items]
    assert sorted(shown, key=repr) == sorted((item for c in ALL for item in c.nav), key=repr)
    assert [section.title for section in nav] == ["Track", "Data", "Release", "Operate", "Admin"]
    assert [item.label for item in shown] == [
        "Experiments",
        "Runs",
        "Datasets",
        "Features",
        "Lineage",
        "Models",
        "Alerts",
        "Incidents",
        "Jobs",
        "Monitors",
        "Deployments",
        "Users",
        "API tokens",
        "Service accounts",
    ]


def test_sections_follow_their_declared_order_and_empty_ones_are_left_out() -> None:
    capabilities = (
        Capability("later", nav=(NavItem("Zeta", "z", "Z", "/z"), NavItem("Operate", "o", "O", "/o"))),
        Capability("models", nav=(NavItem("Release", "models", "Models", "/models"),)),
    )
    nav = build_nav(capabilities)
    assert [section.title for section in nav] == ["Release", "Operate", "Zeta"]
    assert [item.key for section in nav for item in section.items] == ["models", "o", "z"]
