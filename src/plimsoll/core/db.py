"""The metadata database: one SQLAlchemy engine, SQLite (embedded default) or PostgreSQL.

Every capability declares its tables on `metadata` in its own `store.py`; migrations live in
`core/migrations`. Writes go through `Database.write()`, which on SQLite takes the write lock up
front (`BEGIN IMMEDIATE`) so that concurrent writers queue on the busy timeout instead of failing
with "database is locked" when a read transaction tries to upgrade.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Index, MetaData, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from plimsoll.core.checkpoint import SAFETY_NET_AUTOCHECKPOINT_PAGES, WalCheckpointer
from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.core.files import PRIVATE_FILE_MODE, create_file, make_dirs

if TYPE_CHECKING:
    from plimsoll.core.schema import Schema

# Services hold a connection only to hand it to their store; they name its type from here, since
# only store modules (and this one) import SQLAlchemy.
__all__ = ["Connection", "Database", "DriverStatement", "backend_index", "metadata"]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def backend_index(dialect: str, name: str, *columns: str) -> Index:
    """An index that exists on one backend only: created there (by its migration, or create_all),
    and left out when the migrations are compared with the declared tables elsewhere."""
    return Index(name, *columns, info={"only_on": dialect}).ddl_if(dialect=dialect)


def declared_for(dialect: str, item: Any) -> bool:
    """False for a `backend_index` of another backend (Alembic's `include_object` test)."""
    only_on = getattr(item, "info", {}).get("only_on")
    return only_on is None or only_on == dialect


SQLITE_BUSY_TIMEOUT_S = 60.0

# Set by `Database.without_waiting()`: a write that would have to wait for the lock is refused.
_NO_WAIT: ContextVar[bool] = ContextVar("plimsoll_db_no_wait", default=False)


class WriteLockBusy(Exception):
    """Another writer holds the database's write lock, and this write was asked not to wait."""


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and pick the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def upsert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT for `table`, the one that takes ON CONFLICT clauses."""
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


def redacted_url(url: str) -> str:
    """A database URL fit for a log or a console: the password replaced by ***."""
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def _text_refused() -> Iterator[None]:
    """PostgreSQL cannot store a NUL character in text (SQLite can): a value that holds one, in a
    write or a lookup, is bad input (400), never a 500. The routes' own checks refuse it sooner and
    name the field where they know of it; this is the backstop for every other string."""
    try:
        yield
    except DataError as exc:
        if "NUL (0x00)" not in str(exc.orig):
            raise
        raise InvalidParameter(
            "text", "a value contains a NUL (\\x00) character, which the database cannot store"
        ) from None


class Database:
    def __init__(self, url: str, *, echo: bool = False, file_mode: int = PRIVATE_FILE_MODE) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.is_postgres = parsed.get_backend_name() == "postgresql"
        # Bound values (params, tags, token hashes) stay out of error messages and logs.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        self._checkpointer: WalCheckpointer | None = None
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                from pathlib import Path

                make_dirs(Path(parsed.database).parent, file_mode)
                # Made here, with its mode, before SQLite opens it: SQLite gives its -wal and -shm
                # files the database file's own permissions.
                create_file(parsed.database, file_mode)
                self._checkpointer = WalCheckpointer(parsed.database)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
            # The connection used last comes back first: each SQLite connection has its own page
            # cache, and one whose cache is warm runs a run's inserts a third faster than one
            # that must first read the pages others have changed since it was last used.
            kwargs["pool_use_lifo"] = True
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._migrated = False
        self._migrate_lock = threading.Lock()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: committed on success, rolled back on error. Inside
        `without_waiting()`, WriteLockBusy at once instead of waiting for another writer."""
        try:
            with _text_refused(), self.engine.connect() as conn:
                conn = conn.execution_options(plimsoll_write=True, plimsoll_no_wait=_NO_WAIT.get())
                with conn.begin():
                    yield conn
            if self._checkpointer is not None:
                self._checkpointer.written()
        except IntegrityError as exc:
            # Two writers raced past the same check (PostgreSQL runs them concurrently); the loser
            # gets the same Conflict the check would have raised, never a 500.
            diag = getattr(exc.orig, "diag", None)
            raise Conflict(
                "the change conflicts with another one made at the same time; read again and retry",
                details={"constraint": getattr(diag, "constraint_name", None)},
            ) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction that sees one snapshot throughout, on both backends: a read of
        several statements (a history page and its cursor, a search and its details) never mixes
        two states. SQLite's read transactions are snapshots already; PostgreSQL's default (READ
        COMMITTED) takes a new one per statement, so reads ask for REPEATABLE READ."""
        with _text_refused(), self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def without_waiting(self) -> Iterator[bool]:
        """Writes in this block never wait for the write lock: they raise WriteLockBusy instead.
        For work on the server's event loop, which must never block; the caller retries on a
        worker thread. Yields False (do not even try) where a write always waits on the network
        (PostgreSQL): only SQLite's local lock can be taken without waiting."""
        if not self.is_sqlite or self._pool_exhausted():
            yield False
            return
        token = _NO_WAIT.set(True)
        try:
            yield True
        finally:
            _NO_WAIT.reset(token)

    def listen(self, name: str, listener: Callable[..., None]) -> None:
        """Call `listener` on one of the engine's connection events ("commit", "checkin", ...)."""
        event.listen(self.engine, name, listener)

    def unlisten(self, name: str, listener: Callable[..., None]) -> None:
        event.remove(self.engine, name, listener)

    def _pool_exhausted(self) -> bool:
        """Whether taking a connection could wait: threads waiting for the write lock hold the
        pool's connections, and a checkout would then block as surely as the lock."""
        pool = self.engine.pool
        size, overflow = getattr(pool, "size", None), getattr(pool, "_max_overflow", None)
        if not callable(size) or not isinstance(overflow, int):
            return False
        checked_out = int(pool.checkedout())  # type: ignore[attr-defined]
        return checked_out >= int(size()) + max(overflow, 0)

    def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        with self.read() as conn:
            conn.exec_driver_sql("SELECT 1")

    def migrate(self, schema: Schema) -> None:
        """Bring the database to the head of every migration branch of `schema`; idempotent and
        safe when several processes start at once."""
        with self._migrate_lock:
            if self._migrated:
                return
            from plimsoll.core.migrate import upgrade_to_head

            upgrade_to_head(self, schema)
            self._migrated = True

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()


class DriverStatement:
    """A Core statement compiled once per dialect and set of columns, then run on the driver's own
    cursor inside the caller's transaction.

    For the few statements of the ingest path: there SQLAlchemy's work per execution (execution
    context, per-row parameter processing, result wrapping) costs more than SQLite's, and a
    synchronous write is a handful of them. No type processors and no engine events run (`echo`
    does not show these statements), so parameters must be values the driver takes as they are
    (str, int, float, bool, None), and a statement that needs SQLAlchemy at execution time (a
    Python-side default to fill in, an expanding IN) is refused when compiled. Driver errors are
    raised as SQLAlchemy's, as `Connection.execute` raises them."""

    def __init__(self, build: Callable[[Connection], Any]) -> None:
        self._build = build
        self._compiled: dict[tuple[type[Dialect], str, tuple[str, ...]], _Compiled] = {}

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run once; the rows it returns (none for a statement without RETURNING)."""
        compiled = self._compile(conn, params)
        with driver_cursor(conn, compiled.sql) as cursor:
            cursor.execute(compiled.sql, compiled.arguments(params))
            return list(cursor.fetchall()) if cursor.description else []

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row; every row has the same keys."""
        if not rows:
            return
        compiled = self._compile(conn, rows[0])
        with driver_cursor(conn, compiled.sql) as cursor:
            cursor.executemany(compiled.sql, [compiled.arguments(row) for row in rows])

    def _compile(self, conn: Connection, params: Mapping[str, Any]) -> _Compiled:
        dialect = conn.dialect
        key = (type(dialect), dialect.paramstyle, tuple(params))
        compiled = self._compiled.get(key)
        if compiled is None:
            statement = self._build(conn).compile(dialect=dialect, column_keys=list(params))
            needs_sqlalchemy = (
                getattr(statement, "insert_prefetch", None)
                or getattr(statement, "update_prefetch", None)
                or getattr(statement, "escaped_bind_names", None)
                or "POSTCOMPILE" in statement.string
            )
            if needs_sqlalchemy:
                raise TypeError(
                    f"{statement.string!r} needs SQLAlchemy at execution time (defaults to fill in "
                    "for missing columns, or expanding parameters); run it with Connection.execute"
                )
            positions = tuple(statement.positiontup or ()) if dialect.positional else None
            # Values the statement binds itself (a LIMIT, say), under the names it gave them.
            fixed = {name: value for name, value in statement.params.items() if name not in params}
            compiled = self._compiled[key] = _Compiled(statement.string, positions, fixed)
        return compiled


def placeholder(conn: Connection) -> str:
    """The driver's positional parameter marker, for SQL handed to `driver_cursor`."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


@contextmanager
def driver_cursor(conn: Connection, sql: str) -> Iterator[Any]:
    """The DBAPI cursor of `conn` inside its transaction, closed after use, for the few hot
    statements where SQLAlchemy's per-row work costs more than the query (`sql` names the
    statement in errors). A driver error is raised as SQLAlchemy's (so that `Database.write` maps
    an IntegrityError to a Conflict), the connection invalidated when the error says it was lost."""
    dbapi_connection = conn.connection.dbapi_connection
    cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    except conn.dialect.loaded_dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, dbapi_connection, cursor)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql,
            None,
            exc,
            conn.dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=conn.dialect,
        ) from exc
    finally:
        # The cursor of a lost connection may refuse to close; the error that matters is raised above.
        with suppress(conn.dialect.loaded_dbapi.Error):
            cursor.close()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order, for a positional driver
    fixed: dict[str, Any]

    def arguments(self, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        merged = {**self.fixed, **params} if self.fixed else params
        return merged if self.positions is None else [merged[name] for name in self.positions]


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against process crashes in WAL mode (only power loss can undo a commit).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Searches and history reads revisit the same pages: keep them in memory (64 MiB cache,
        # memory-mapped reads) rather than copying them in from the OS page by page.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.execute("PRAGMA temp_store=MEMORY")
        # Checkpoints run on a thread of their own (core/checkpoint.py), not inside a commit; the
        # connection's own is a safety net far above where that thread resets the log.
        cursor.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_AUTOCHECKPOINT_PAGES}")
        # A log that grew while readers held old pages is cut back to 64 MiB when a commit resets it.
        cursor.execute("PRAGMA journal_size_limit=67108864")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if not options.get("plimsoll_write"):
            conn.exec_driver_sql("BEGIN DEFERRED")
        elif options.get("plimsoll_no_wait"):
            _begin_without_waiting(conn)
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_without_waiting(conn: Connection) -> None:
    """BEGIN IMMEDIATE with no busy timeout: WriteLockBusy when another writer holds the lock. Once
    begun, this transaction holds the lock and none of its statements waits for it."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("PRAGMA busy_timeout=0")
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except conn.dialect.loaded_dbapi.OperationalError as exc:
            raise WriteLockBusy(str(exc)) from None
        finally:
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    finally:
        cursor.close()
