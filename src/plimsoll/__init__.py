"""Plimsoll: a self-hosted MLOps platform."""

from __future__ import annotations

__version__ = "0.1.0"
