"""The left navigation, built from the capabilities' descriptors: each brings its entries, and the
planned ones (`plimsoll.capabilities.PLANNED`) are shown greyed until a capability provides them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from plimsoll.capabilities import NAV_SECTIONS, PLANNED
from plimsoll.core.capability import Capability, NavItem


@dataclass(frozen=True)
class NavSection:
    title: str
    items: tuple[NavItem, ...]


def build_nav(capabilities: Sequence[Capability]) -> tuple[NavSection, ...]:
    items = [item for capability in capabilities for item in capability.nav]
    provided = {item.key for item in items}
    items += [item for item in PLANNED if item.key not in provided]
    titles = list(NAV_SECTIONS) + sorted({item.section for item in items} - set(NAV_SECTIONS))
    sections = (NavSection(title, tuple(i for i in items if i.section == title)) for title in titles)
    return tuple(section for section in sections if section.items)
