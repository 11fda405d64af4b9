"""The web UI's pages of users and access: signing in and out (`sign_in`), one's own account
(`self_service`: profile, password, sessions, tokens), and the site admin's pages (`admin`: users,
every token, service accounts) and a project's members. Each page calls the auth service; the
permission table (core/auth/permissions.py) decides who may load or post it."""

from __future__ import annotations

from fastapi import APIRouter

from plimsoll.server.ui.account import admin, self_service, sign_in

router = APIRouter(include_in_schema=False)
router.include_router(sign_in.router)
router.include_router(self_service.router)
router.include_router(admin.router)
