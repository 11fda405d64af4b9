"""The left navigation, as data. A capability's pages slot in by turning its entry `ready`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str
    ready: bool = False


@dataclass(frozen=True)
class NavSection:
    title: str
    items: tuple[NavItem, ...]


NAV: tuple[NavSection, ...] = (
    NavSection(
        "Track",
        (
            NavItem("experiments", "Experiments", "/experiments", ready=True),
            NavItem("runs", "Runs", "/runs", ready=True),
        ),
    ),
    NavSection(
        "Data",
        (
            NavItem("datasets", "Datasets", "/datasets"),
            NavItem("lineage", "Lineage", "/lineage"),
        ),
    ),
    NavSection(
        "Release",
        (
            NavItem("models", "Models", "/models"),
            NavItem("deployments", "Deployments", "/deployments"),
        ),
    ),
    NavSection(
        "Operate",
        (
            NavItem("monitoring", "Monitoring", "/monitoring"),
            NavItem("incidents", "Incidents", "/incidents"),
            NavItem("pipelines", "Pipelines", "/pipelines"),
        ),
    ),
)
