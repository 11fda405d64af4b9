"""The error tree: every class round-trips through its JSON body, codes are unique and registered,
every error the server itself can answer with maps to a class of the tree, and the statistics
engine's errors belong to it without `plimsoll.stats` importing the rest of Plimsoll."""

from __future__ import annotations

import ast
import importlib
import pickle
import pkgutil
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

import plimsoll
import plimsoll.core.errors as core_errors
import plimsoll.errors as root_errors
from plimsoll.core.auth import api as auth_api
from plimsoll.core.errors import (
    ERRORS_BY_CODE,
    BlobCorrupted,
    BlobNotFound,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PlimsollError,
    PlimsollStatsError,
    error_from_dict,
)
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

SRC = Path(plimsoll.__file__).parent


def _import_everything() -> None:
    """Every module of the package, so that every error class anywhere is defined."""
    for module in pkgutil.walk_packages(plimsoll.__path__, "plimsoll."):
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)


def _all_error_classes() -> list[type[PlimsollError]]:
    _import_everything()
    found: list[type[PlimsollError]] = [PlimsollError]
    for cls in found:
        found.extend(cls.__subclasses__())
    return found


def _example(cls: type[PlimsollError]) -> PlimsollError:
    details: dict[str, Any] = {"limit": 3, "nested": {"a": [1, 2.5, None]}}
    if issubclass(cls, PlimsollStatsError):
        return cls("column 'x': has no finite values", field="columns.x", limit="at least 1", details=details)
    if issubclass(cls, InvalidParameter):
        return cls("metrics.loss", "must be a number, got 'high'", details=details)
    return cls(f"something {cls.__name__} says", details=details)


def test_every_error_class_lives_in_the_error_modules() -> None:
    homes = {core_errors.__name__, root_errors.__name__}
    strays = [f"{c.__module__}.{c.__qualname__}" for c in _all_error_classes() if c.__module__ not in homes]
    assert strays == []


def test_every_error_class_is_registered_under_its_own_code() -> None:
    classes = _all_error_classes()
    assert len({cls.code for cls in classes}) == len(classes)
    assert {cls.code: cls for cls in classes} == ERRORS_BY_CODE


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_class_round_trips_through_its_json_body(cls: type[PlimsollError]) -> None:
    sent = _example(cls)
    body = orjson.loads(orjson.dumps(sent.to_dict()))  # as it travels
    got = error_from_dict(body, cls.status)
    assert type(got) is cls
    assert (got.code, got.message, got.details, str(got)) == (
        sent.code,
        sent.message,
        sent.details,
        str(sent),
    )
    if isinstance(sent, InvalidParameter):
        assert isinstance(got, InvalidParameter) and got.field == sent.field
    unpickled = pickle.loads(pickle.dumps(sent))  # to a worker process and back, say
    assert type(unpickled) is cls and vars(unpickled) == vars(sent) and str(unpickled) == str(sent)


def test_a_class_without_its_own_code_or_with_a_taken_one_is_refused() -> None:
    before = dict(ERRORS_BY_CODE)
    with pytest.raises(TypeError, match="must declare its own `code`"):

        class Forgetful(NotFound):
            pass

    with pytest.raises(TypeError, match=r"'NOT_FOUND' .* is already .*NotFound"):

        class Copycat(PlimsollError):
            code = "NOT_FOUND"

    assert before == ERRORS_BY_CODE


def test_an_unknown_code_becomes_the_class_of_its_status_and_a_bodyless_answer_the_root() -> None:
    newer = error_from_dict({"error": {"code": "FROM_THE_FUTURE", "message": "m", "details": {}}}, 404)
    assert type(newer) is NotFound and newer.message == "m"
    bare = error_from_dict({}, 502)
    assert type(bare) is PlimsollError and "502" in bare.message


def test_moved_classes_are_still_where_they_were() -> None:
    from plimsoll.core import blobs

    assert auth_api.MethodNotAllowed is MethodNotAllowed
    assert blobs.BlobCorrupted is BlobCorrupted and blobs.BlobNotFound is BlobNotFound
    import plimsoll.stats

    assert plimsoll.stats.PlimsollStatsError is PlimsollStatsError


# -- the statistics engine's errors -----------------------------------------------------------------


def test_stats_errors_are_invalid_parameters_and_value_errors_naming_their_field() -> None:
    import numpy as np

    from plimsoll import stats

    with pytest.raises(PlimsollStatsError) as caught:
        stats.drift_test(np.arange(50.0), np.arange(50.0), alpha=1.5)
    error = caught.value
    assert isinstance(error, InvalidParameter) and isinstance(error, ValueError)
    assert str(error) == error.message == "alpha must be within (0, 1), got 1.5"
    assert type(error) is stats.StatsOutOfRange and error.code == "STATS_OUT_OF_RANGE"
    assert error.field == "alpha" and error.details == {"field": "alpha", "limit": "(0, 1)"}
    with pytest.raises(PlimsollStatsError) as caught:
        stats.summarize({"x": np.zeros((2, 2))})
    assert caught.value.field == "columns.x" and str(caught.value).startswith("column 'x': ")


def test_stats_imports_nothing_of_plimsoll_but_itself_and_the_error_root() -> None:
    allowed = ("plimsoll.stats", "plimsoll.errors")
    offending = []
    for path in sorted((SRC / "stats").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom) and node.level:
                names = ["(relative import)"]
            for name in names:
                inside = name == "plimsoll" or name.startswith("plimsoll.")
                if (inside or name.startswith("(")) and not name.startswith(allowed):
                    offending.append(f"{path.relative_to(SRC)}: {name}")
    assert offending == []


def test_the_error_root_imports_only_the_standard_library() -> None:
    tree = ast.parse((SRC / "errors.py").read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "typing"}


# -- what the server itself answers ---------------------------------------------------------------


@pytest.fixture
def raw_server(sqlite_live_server: LiveServer) -> tuple[LiveServer, urllib3.PoolManager]:
    return sqlite_live_server, urllib3.PoolManager(retries=False)


def _answer(
    server: LiveServer, http: urllib3.PoolManager, method: str, path: str, **kwargs: Any
) -> tuple[int, PlimsollError, dict[str, Any]]:
    response = http.request(method, server.url + path, redirect=False, **kwargs)
    body = orjson.loads(response.data)
    return response.status, error_from_dict(body, response.status), dict(response.headers)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "cls", "field"),
    [
        ("GET", "/api/v1/no-such-route", {}, 404, NotFound, None),
        ("PUT", "/api/v1/experiments", {}, 405, MethodNotAllowed, None),
        ("POST", "/api/v1/runs/search", {"body": b"{not json", "headers": {"Content-Type": "application/json"}},
         400, InvalidParameter, "body"),
        ("POST", "/api/v1/runs/search", {"json": {"max_results": "many"}}, 400, InvalidParameter, "max_results"),
        ("POST", "/api/v1/experiments", {"json": {}}, 400, InvalidParameter, "name"),
        ("POST", "/api/v1/experiments", {}, 400, InvalidParameter, "body"),
        ("POST", "/api/v1/runs/ingest", {"json": {"runs": [{"run_id": 5}]}}, 400, InvalidParameter,
         "runs.0.run_id"),
        ("GET", "/api/v1/runs/" + "0" * 32 + "/metrics/m/history?max_points=x", {}, 400, InvalidParameter,
         "max_points"),
    ],
    ids=["unknown route", "wrong method", "malformed JSON", "query type", "missing field", "missing body",
         "fast lane validation", "query of a GET"],
)  # fmt: skip
def test_the_frameworks_own_errors_come_back_as_the_trees(
    raw_server: tuple[LiveServer, urllib3.PoolManager],
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    cls: type[PlimsollError],
    field: str | None,
) -> None:
    got_status, error, headers = _answer(*raw_server, method, path, **kwargs)
    assert (got_status, type(error)) == (status, cls), error.message
    assert error.code == cls.code and error.status == status
    if field is not None:
        assert isinstance(error, InvalidParameter) and error.field == field
    if cls is MethodNotAllowed:
        assert "allow" in {name.lower() for name in headers}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_payload_too_large_either_way(
    raw_server: tuple[LiveServer, urllib3.PoolManager], monkeypatch: pytest.MonkeyPatch, chunked: bool
) -> None:
    from plimsoll.server import app

    monkeypatch.setattr(app, "MAX_JSON_BODY_BYTES", 100)
    body = orjson.dumps({"name": "e" * 200})
    kwargs: dict[str, Any] = {"headers": {"Content-Type": "application/json"}}
    kwargs["body"] = iter([body[:50], body[50:]]) if chunked else body
    if chunked:
        kwargs["chunked"] = True
    status, error, _ = _answer(*raw_server, "POST", "/api/v1/experiments", **kwargs)
    assert (status, type(error)) == (413, PayloadTooLarge)
    assert isinstance(error, PayloadTooLarge) and error.field == "body"


def test_auth_guard_errors_come_back_as_the_trees(tmp_path: Path) -> None:
    from plimsoll.core.config import Settings
    from plimsoll.core.errors import PermissionDenied, Unauthenticated

    platform = Platform(Settings(home=tmp_path / "home", auth=True)).startup()
    server = LiveServer(platform)
    http = urllib3.PoolManager(retries=False)
    try:
        assert type(_answer(server, http, "GET", "/api/v1/experiments")[1]) is Unauthenticated
        assert type(_answer(server, http, "PUT", "/api/v1/experiments")[1]) is MethodNotAllowed
        assert type(_answer(server, http, "GET", "/api/v1/nowhere")[1]) is NotFound
        platform.auth.bootstrap_admin("root")
        platform.auth.sign_in.set_password("root", "a long enough passphrase", actor="local")
        session = platform.auth.sign_in.with_password("root", "a long enough passphrase").secret
        # a signed-in browser's write from another site (CSRF) is refused as not allowed
        cross_site = {"Cookie": f"plimsoll_session={session}", "Origin": "https://evil.example"}
        refused = _answer(server, http, "POST", "/api/v1/experiments", headers=cross_site)[1]
        assert type(refused) is PermissionDenied
    finally:
        server.stop()
        platform.close()
