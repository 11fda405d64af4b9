"""Passwords: the policy a new one must meet, and Argon2id hashes (argon2-cffi's RFC 9106 profile).

Only the hash is stored, as a PHC string that carries its own parameters, so the parameters can be
raised later: `needs_rehash` says when a stored hash is weaker than today's, and the next
successful sign-in stores a new one.

    hashed = hash_password("correct horse battery")
    verify_password(hashed, "correct horse battery")      # True
    verify_password(None, "anything")                      # False, after the same work as a real check
"""

from __future__ import annotations

import functools
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from plimsoll.core.errors import InvalidParameter

# NIST SP 800-63B (rev. 4) asks at least 15 characters of a password that is the only factor, and
# that long passphrases be allowed; the upper bound only keeps one hash from costing too much.
MIN_PASSWORD_LENGTH = 15
MAX_PASSWORD_LENGTH = 256

_hasher = PasswordHasher()
# Each check holds 64 MiB for tens of milliseconds: a burst of sign-ins waits its turn rather than
# taking the server's memory (the brake counts the burst before any of it is checked).
_ARGON2_AT_ONCE = threading.BoundedSemaphore(4)


def check_password(password: object, *, user: str, field: str = "password") -> str:
    """`password` if a new password may be it; an InvalidParameter naming the rule otherwise."""
    if not isinstance(password, str):
        raise InvalidParameter(field, "must be a string")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameter(
            field,
            f"must be at least {MIN_PASSWORD_LENGTH} characters long (got {len(password)}); "
            "a few words make a good one",
            details={"min_length": MIN_PASSWORD_LENGTH},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidParameter(
            field,
            f"must be at most {MAX_PASSWORD_LENGTH} characters long (got {len(password)})",
            details={"max_length": MAX_PASSWORD_LENGTH},
        )
    if "\x00" in password:
        raise InvalidParameter(field, "must not contain NUL characters")
    if user.casefold() in password.casefold():
        raise InvalidParameter(field, "must not contain the user name")
    if len(set(password)) < 4:
        raise InvalidParameter(field, "must not repeat so few characters (use at least 4 different ones)")
    return password


def hash_password(password: str) -> str:
    with _ARGON2_AT_ONCE:
        return _hasher.hash(password)


@functools.cache
def _decoy() -> str:
    # Checked against when there is no hash to check (no such user, no password): the answer then
    # costs as long as a real one, so its timing does not tell whether the user exists.
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(hashed: str | None, password: str) -> bool:
    """Whether `password` matches `hashed`; always does the work of one Argon2 check."""
    checked = _decoy() if hashed is None else hashed
    try:
        with _ARGON2_AT_ONCE:
            matched = _hasher.verify(checked, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matched and hashed is not None


def needs_rehash(hashed: str) -> bool:
    return _hasher.check_needs_rehash(hashed)


def temporary_password() -> str:
    """A random password for an admin's reset: 20 characters, to be changed at the next sign-in."""
    return secrets.token_urlsafe(15)
