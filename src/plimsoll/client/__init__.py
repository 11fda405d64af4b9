"""The Python SDK: `Client`, and module-level shortcuts on a default client."""

from __future__ import annotations

from plimsoll.client.client import DEFAULT_EXPERIMENT, Client
from plimsoll.client.results import RunList
from plimsoll.client.run import ActiveRun

__all__ = ["DEFAULT_EXPERIMENT", "ActiveRun", "Client", "RunList"]
