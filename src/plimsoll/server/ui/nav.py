"""The left navigation, built from the capabilities' descriptors alone: each brings its entries,
and only what exists is shown (sections in `NAV_SECTIONS` order, then any others by name)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from plimsoll.capabilities import NAV_SECTIONS
from plimsoll.core.capability import Capability, NavItem


@dataclass(frozen=True)
class NavSection:
    title: str
    items: tuple[NavItem, ...]


def build_nav(capabilities: Sequence[Capability]) -> tuple[NavSection, ...]:
    items = [item for capability in capabilities for item in capability.nav]
    titles = list(NAV_SECTIONS) + sorted({item.section for item in items} - set(NAV_SECTIONS))
    ranked = sorted(items, key=lambda item: item.rank)  # stable: capability order within a rank
    sections = (NavSection(title, tuple(i for i in ranked if i.section == title)) for title in titles)
    return tuple(section for section in sections if section.items)
