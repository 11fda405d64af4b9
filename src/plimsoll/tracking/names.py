"""Friendly run names (`brave-heron-417`) for runs started without one."""

from __future__ import annotations

import secrets

_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "deft", "eager", "fair",
    "fleet", "gentle", "glad", "keen", "lively", "lucid", "merry", "nimble", "noble", "plucky",
    "quick", "quiet", "rapid", "sharp", "sleek", "snug", "steady", "swift", "tidy", "vivid",
)  # fmt: skip
_NOUNS = (
    "albatross", "anchor", "beacon", "compass", "cormorant", "current", "dolphin", "gannet",
    "harbor", "heron", "keel", "lantern", "mast", "narwhal", "orca", "otter", "petrel", "pilot",
    "puffin", "rudder", "schooner", "seal", "sextant", "skiff", "sloop", "tern", "tide", "whale",
)  # fmt: skip


def random_run_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000)}"
