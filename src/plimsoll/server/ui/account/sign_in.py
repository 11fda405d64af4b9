"""Placeholder until the lead's sign-in pages land (this file is theirs: take their version).

`account/__init__.py` imports it; without it the app cannot start, so the account pages could not
be run or tested on this branch."""

from __future__ import annotations

from fastapi import APIRouter

from plimsoll.server.ui.pages import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)
