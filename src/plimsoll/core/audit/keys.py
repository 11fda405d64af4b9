"""The audit key ring: the HMAC keys that sign the audit log, kept in a file outside the database.

    ring = Keyring.load_or_create(Path("/var/lib/plimsoll/audit.key"))   # made 0600 if missing
    key_id, mac = ring.sign_row(event_hash)
    ring.check_row(key_id, mac, event_hash)                              # True, False, or None (key not held)

The file holds one key a line, 64 hex digits (32 random bytes); `#` starts a comment. The first
key signs; the ones after it only verify what they signed before a rotation (`rotate`), so a key
is never dropped while rows or checkpoints it signed are still checked with it. A key is named by
its id, the first 16 hex digits of a hash of it: rows and checkpoints record the id, never the key.

Someone who can write the database but cannot read this file can delete the newest rows, but
cannot change, insert or reorder rows, nor forge a checkpoint (docs/security.md states exactly
what remains).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.files import make_dirs

log = logging.getLogger("plimsoll.audit")

KEY_BYTES = 32
KEY_FILE_MODE = 0o600  # always: the key is a secret whatever PLIMSOLL_FILE_MODE says
_HEADER = (
    "# Plimsoll audit key ring (docs/security.md). The first key signs; the others only verify.\n"
    "# Keep this file secret, back it up apart from the database, and give every server and\n"
    "# worker of one database the same file.\n"
)
_ROW = b"plimsoll-audit-row-v1\x00"
_CHECKPOINT = b"plimsoll-audit-checkpoint-v1\x00"


@dataclass(frozen=True)
class AuditKey:
    id: str
    secret: bytes
    # Keyed once and copied for each message: keying (OpenSSL looks SHA-256 up and hashes the
    # key) costs more than signing a row's hash, and every write signs its rows.
    _keyed: hmac.HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keyed", hmac.new(self.secret, digestmod=hashlib.sha256))

    def __repr__(self) -> str:  # never the secret, not even in a traceback
        return f"AuditKey(id={self.id!r})"

    @classmethod
    def of(cls, secret: bytes) -> AuditKey:
        return cls(hashlib.sha256(b"plimsoll-audit-key-id\x00" + secret).hexdigest()[:16], secret)

    def mac(self, message: bytes) -> str:
        signer = self._keyed.copy()
        signer.update(message)
        return signer.hexdigest()


class Keyring:
    def __init__(self, path: Path, keys: tuple[AuditKey, ...], *, created: bool = False) -> None:
        if not keys:
            raise InvalidParameter("PLIMSOLL_AUDIT_KEY_FILE", f"the audit key file {path} holds no key")
        self.path = path
        self.keys = keys
        self.created = created  # this process made the file: the log had no key before
        self._by_id = {key.id: key for key in keys}

    def __repr__(self) -> str:
        return f"Keyring({str(self.path)!r}, keys={[key.id for key in self.keys]})"

    @property
    def signing(self) -> AuditKey:
        return self.keys[0]

    def holds(self, key_id: str) -> bool:
        return key_id in self._by_id

    # -- rows and checkpoints ------------------------------------------------------------------

    def sign_row(self, event_hash: str) -> tuple[str, str]:
        return self.signing.id, self.signing.mac(_ROW + event_hash.encode())

    def check_row(self, key_id: str, mac: str, event_hash: str) -> bool | None:
        """Whether `mac` signs `event_hash`; None when the key it names is not in the ring."""
        key = self._by_id.get(key_id)
        if key is None:
            return None
        return hmac.compare_digest(key.mac(_ROW + event_hash.encode()), mac)

    def sign_checkpoint(self, seq: int, event_hash: str, created_at: int) -> tuple[str, str]:
        return self.signing.id, self.signing.mac(_checkpoint_message(seq, event_hash, created_at))

    def check_checkpoint(
        self, key_id: str, signature: str, seq: int, event_hash: str, created_at: int
    ) -> bool | None:
        key = self._by_id.get(key_id)
        if key is None:
            return None
        expected = key.mac(_checkpoint_message(seq, event_hash, created_at))
        return hmac.compare_digest(expected, signature)

    # -- other signed records ------------------------------------------------------------------

    def sign(self, domain: bytes, message: bytes) -> tuple[str, str]:
        """Sign a record other than the log's with the signing key: `domain` names what kind of
        record it is (b"plimsoll-...-v1\x00"), so that a signature of one kind never passes for
        another's. Returns (key id, HMAC-SHA256 in hex)."""
        return self.signing.id, self.signing.mac(domain + message)

    def check(self, domain: bytes, key_id: str, mac: str, message: bytes) -> bool | None:
        """Whether `mac` signs `message` of kind `domain`; None when the key it names is not held."""
        key = self._by_id.get(key_id)
        if key is None:
            return None
        return hmac.compare_digest(key.mac(domain + message), mac)

    # -- the file ------------------------------------------------------------------------------

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """The ring in `path`; a new one of a fresh key when there is none (made readable by its
        owner only, atomically: when several processes start at once, one makes it and all use it)."""
        try:
            return cls(path, _read(path))
        except FileNotFoundError:
            pass
        make_dirs(path.parent)
        made = _publish(path, _HEADER + secrets.token_bytes(KEY_BYTES).hex() + "\n", replace=False)
        ring = cls(path, _read(path), created=made)
        if made:
            log.info(
                "created the audit key %s (key %s): back it up apart from the database", path, ring.signing.id
            )
        return ring

    def reloaded(self) -> Keyring:
        """The ring as the file holds it now (a rotation by another process shows), keeping the
        keys this process signs with; this ring if the file cannot be read."""
        try:
            on_file = _read(self.path)
        except (OSError, InvalidParameter) as exc:
            log.warning(
                "could not read the audit key file %s again (%s); using the keys read at start",
                self.path,
                exc,
            )
            return self
        merged = {key.id: key for key in (*on_file, *self.keys)}
        return Keyring(
            self.path, (self.signing, *[key for key in merged.values() if key.id != self.signing.id])
        )


def rotate(path: Path) -> AuditKey:
    """Put a new signing key first in the ring at `path`, keeping the others to verify with."""
    old = _read(path)
    new = AuditKey.of(secrets.token_bytes(KEY_BYTES))
    lines = [new.secret.hex(), *[key.secret.hex() for key in old]]
    _publish(path, _HEADER + "\n".join(lines) + "\n", replace=True)
    return new


def _checkpoint_message(seq: int, event_hash: str, created_at: int) -> bytes:
    return _CHECKPOINT + f"{seq}\x00{event_hash}\x00{created_at}".encode()


def _read(path: Path) -> tuple[AuditKey, ...]:
    with open(path, encoding="ascii", errors="replace") as f:
        text = f.read()
        mode = os.fstat(f.fileno()).st_mode & 0o777
    if mode & 0o077:
        log.warning("the audit key file %s can be read by others (mode %o): chmod 600 it", path, mode)
    keys: list[AuditKey] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            secret = bytes.fromhex(line)
        except ValueError:
            secret = b""
        if len(secret) != KEY_BYTES:
            # The line is a secret: say where it is, never what it says.
            raise InvalidParameter(
                "PLIMSOLL_AUDIT_KEY_FILE",
                f"line {number} of the audit key file {path} is not a key of {KEY_BYTES * 2} hex digits",
            )
        keys.append(AuditKey.of(secret))
    return tuple(keys)


def _publish(path: Path, content: str, *, replace: bool) -> bool:
    """Write `content` to a private temp file beside `path`, then put it in place in one step:
    replacing what is there, or only if nothing is (False if something was)."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, KEY_FILE_MODE)
    try:
        os.fchmod(fd, KEY_FILE_MODE)
        os.write(fd, content.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            os.replace(temp, path)
            return True
        try:
            os.link(temp, path)  # fails if the file exists: never two keys for one log
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links: exclusive, if not atomic
            return _create_exclusively(path, content)
        return True
    finally:
        temp.unlink(missing_ok=True)


def _create_exclusively(path: Path, content: str) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, KEY_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, KEY_FILE_MODE)
        os.write(fd, content.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return True
