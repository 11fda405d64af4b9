"""RegistryService on SQLite and PostgreSQL: versions from runs' artifacts (digest recorded,
the same artifact gives the same version), aliases with an append-only history, "which version
held production at T", rollback, protected aliases, compare-and-set moves, lineage nodes, events
and audit entries, and bad input named."""

from __future__ import annotations

import threading

import pytest

from plimsoll.core import audit
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied
from plimsoll.model_registry.entities import artifact_digest
from plimsoll.model_registry.service import RegistryService
from plimsoll.platform import Platform

P = "default"


def registry_of(platform: Platform) -> RegistryService:
    service = platform.model_registry
    assert isinstance(service, RegistryService)
    return service


def run_with_model(platform: Platform, content: bytes = b"weights", name: str = "train") -> str:
    experiment = platform.tracking.get_or_create_experiment("churn", actor="ada")
    run = platform.tracking.create_run(experiment.id, name=name, actor="ada")
    platform.tracking.log_artifact(run.id, "model/model.skops", content, actor="ada")
    platform.tracking.log_artifact(run.id, "model/MLmodel.json", b"{}", actor="ada")
    platform.tracking.log_artifact(run.id, "report.html", b"<p>", actor="ada")
    return run.id


def test_a_version_records_its_run_and_artifact_and_the_same_artifact_gives_it_back(
    platform: Platform,
) -> None:
    registry = registry_of(platform)
    run_id = run_with_model(platform)
    first = registry.register_version(
        "churn", run_id=run_id, artifact_path="model/", flavor="sklearn", actor="ada"
    )
    stored = {a.path: a.digest for a in platform.tracking.list_artifacts(run_id, "model")}
    assert (first.name, first.version, first.run_id, first.artifact_path) == ("churn", 1, run_id, "model")
    assert first.files == 2 and first.flavor == "sklearn"
    assert first.artifact_digest == artifact_digest(
        [(p.removeprefix("model/"), d) for p, d in stored.items()]
    )
    assert registry.register_version("churn", run_id=run_id, artifact_path="model", actor="ada") == first

    second = registry.register_version(
        "churn", run_id=run_with_model(platform, b"better"), artifact_path="model", actor="bo"
    )
    assert second.version == 2 and second.artifact_digest != first.artifact_digest
    assert [v.version for v in registry.list_versions("churn")] == [2, 1]
    assert registry.get_version("churn").version == 2 and registry.get_version("churn/1") == first
    model = registry.get_model("churn")
    assert (model.latest_version, model.created_by) == (2, "ada")


def test_versions_are_lineage_nodes_downstream_of_their_run(platform: Platform) -> None:
    registry = registry_of(platform)
    run_id = run_with_model(platform)
    version = registry.register_version("churn", run_id=run_id, artifact_path="model", actor="ada")
    registry.set_alias("churn", "production", version.version, actor="ada")
    upstream = platform.lineage.upstream(P, "model:churn@production")
    assert [n.id for n in upstream.nodes] == ["model:churn/1", f"run:{run_id}"]


def test_aliases_keep_their_history_and_answer_which_version_held_them_at_a_time(platform: Platform) -> None:
    registry = registry_of(platform)
    for content in (b"one", b"two", b"three"):
        registry.register_version(
            "churn", run_id=run_with_model(platform, content), artifact_path="model", actor="ada"
        )
    first = registry.set_alias("churn", "production", 1, reason="first release", actor="ada")
    second = registry.set_alias("churn", "production", 3, reason="retrained", actor="bo")
    registry.set_alias("churn", "staging", 2, actor="bo")

    assert registry.get_version("churn@production").version == 3
    assert registry.get_model("churn").aliases == {"production": 3, "staging": 2}
    assert [m.aliases for m in registry.list_models()] == [{"production": 3, "staging": 2}]
    assert [v.aliases for v in registry.list_versions("churn")] == [("production",), ("staging",), ()]
    history = registry.alias_history("churn", "production")
    assert [(m.action, m.version, m.previous, m.actor, m.reason) for m in history] == [
        ("set", 3, 1, "bo", "retrained"),
        ("set", 1, None, "ada", "first release"),
    ]
    assert registry.history("churn", "production", at=first.at).version == 1
    assert registry.history("churn", "production", at=second.at).version == 3
    assert registry.history("churn", "production", at=first.at - 1).version is None

    # A rollback read as "from 1" is refused once the alias holds 3: nothing moves.
    with pytest.raises(Conflict, match="holds version 3, not 1"):
        registry.rollback("churn", "production", reason="stale page", expected=1, actor="cy")
    back = registry.rollback("churn", "production", reason="latency regression", expected=3, actor="cy")
    assert (back.action, back.version, back.previous) == ("rollback", 1, 3)
    assert registry.get_version("churn@production").version == 1
    assert [m.action for m in registry.alias_history("churn", "production")] == ["rollback", "set", "set"]

    registry.remove_alias("churn", "staging", reason="retired", actor="bo")
    with pytest.raises(NotFound, match="no alias 'staging'"):
        registry.get_version("churn@staging")
    with pytest.raises(Conflict, match="nothing to roll back to"):
        registry.set_alias("churn", "canary", 2, actor="bo") and registry.rollback(
            "churn", "canary", actor="bo"
        )


def test_who_may_move_or_roll_back_is_a_permission_per_alias(platform: Platform) -> None:
    registry = registry_of(platform)
    for content in (b"one", b"two"):
        registry.register_version(
            "churn", run_id=run_with_model(platform, content), artifact_path="model", actor="ada"
        )
    registry.set_alias("churn", "production", 1, actor="ada")
    registry.set_alias("churn", "staging", 1, actor="ada")
    access = registry.set_alias_access(
        "churn", "production", request=["ada"], rollback=["oncall", "oncall"], actor="admin"
    )
    assert (access.request, access.approve, access.rollback) == (("ada",), (), ("oncall",))
    assert registry.alias_access("churn", "production", project=P) == access
    with pytest.raises(
        PermissionDenied, match="'bo' may not request churn@production: its access names only ada"
    ):
        registry.set_alias("churn", "production", 2, actor="bo")
    registry.set_alias("churn", "staging", 2, actor="bo")  # another alias of the same model: the roles
    registry.set_alias("churn", "production", 2, actor="ada")
    with pytest.raises(PermissionDenied, match="may not rollback churn@production"):
        registry.rollback("churn", "production", actor="ada")
    assert registry.rollback("churn", "production", actor="oncall").version == 1
    assert registry.get_version("churn@production").version == 1
    # an empty list gives the action back to the roles; bad lists are refused naming the field
    registry.set_alias_access("churn", "production", actor="admin")
    registry.set_alias("churn", "production", 2, actor="bo")
    with pytest.raises(InvalidParameter, match=r"request\[0\]"):
        registry.set_alias_access("churn", "production", request=["a/b"], actor="admin")
    with pytest.raises(InvalidParameter, match="rollback: must be a list"):
        registry.set_alias_access("churn", "production", rollback="oncall", actor="admin")
    with platform.db.read() as conn:
        changed = [entry for entry in audit.list_events(conn) if entry.action == "model.alias_access"]
    assert len(changed) == 2


def test_a_protected_alias_does_not_move_by_hand_but_rolls_back(platform: Platform) -> None:
    registry = registry_of(platform)
    for content in (b"one", b"two"):
        registry.register_version(
            "churn", run_id=run_with_model(platform, content), artifact_path="model", actor="ada"
        )
    registry.set_alias("churn", "production", 1, actor="ada")
    registry.set_alias("churn", "production", 2, actor="ada")
    registry.protect_alias("churn", "production", actor="admin")
    with pytest.raises(Conflict, match="protected: it moves only through a promotion") as refused:
        registry.set_alias("churn", "production", 1, actor="ada")
    assert refused.value.details["alias"] == "production"
    with pytest.raises(Conflict, match="protected"):
        registry.remove_alias("churn", "production", actor="ada")
    assert registry.get_version("churn@production").version == 2  # nothing moved
    assert registry.rollback("churn", "production", actor="oncall").version == 1
    assert [a.protected for a in registry.aliases("churn")] == [True]


def test_of_two_moves_from_the_same_reading_one_wins(platform: Platform) -> None:
    registry = registry_of(platform)
    for content in (b"one", b"two", b"three"):
        registry.register_version(
            "churn", run_id=run_with_model(platform, content), artifact_path="model", actor="ada"
        )
    registry.set_alias("churn", "production", 1, actor="ada")
    outcomes: list[object] = []
    start = threading.Barrier(2)

    def move(version: int) -> None:
        start.wait()
        try:
            outcomes.append(registry.set_alias("churn", "production", version, expected=1, actor="ada"))
        except Conflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=move, args=(v,)) for v in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(type(o).__name__ for o in outcomes) == ["AliasMove", "Conflict"]
    assert len(registry.alias_history("churn", "production")) == 2


def test_moves_publish_events_and_audit_entries(platform: Platform) -> None:
    registry = registry_of(platform)
    registry.register_version("churn", run_id=run_with_model(platform), artifact_path="model", actor="ada")
    registry.set_alias("churn", "production", 1, reason="go", actor="ada")
    page = platform.outbox.follow(None, ["model.version_registered", "alias.moved"], 100, project=P)
    assert [e.type for e in page.events] == ["model.version_registered", "alias.moved"]
    assert page.events[1].payload == {
        "model": "churn",
        "alias": "production",
        "version": 1,
        "previous": None,
        "action": "set",
        "reason": "go",
        "project": P,
        "decision": None,  # a promotion's move names the release decision that allowed it
    }
    with platform.db.read() as conn:
        actions = {entry.action for entry in audit.list_events(conn)}
    assert {"model.create", "model.register_version", "model.alias_set"} <= actions


def test_models_carry_owners_and_a_description(platform: Platform) -> None:
    registry = registry_of(platform)
    model = registry.create_model(
        "fraud",
        description="card fraud",
        owners={"training": "ml-team", "incident_response": "oncall"},
        actor="ada",
    )
    assert model.owners == {"incident_response": "oncall", "training": "ml-team"}
    with pytest.raises(Conflict, match="already exists"):
        registry.create_model("fraud", actor="ada")
    changed = registry.update_model("fraud", owners={"monitoring": "sre"}, actor="ada")
    assert changed.owners == {"monitoring": "sre"} and changed.description == "card fraud"
    assert [m.name for m in registry.list_models()] == ["fraud"]


@pytest.mark.parametrize(
    ("call", "field", "message"),
    [
        (
            lambda r, run: r.register_version("a/b", run_id=run, artifact_path="model", actor="x"),
            "name",
            "must not contain",
        ),
        (
            lambda r, run: r.register_version("m", run_id=run, artifact_path="../x", actor="x"),
            "artifact_path",
            "'..'",
        ),
        (
            lambda r, run: r.register_version("m", run_id=run, artifact_path="absent", actor="x"),
            None,
            "no artifact 'absent'",
        ),
        (
            lambda r, run: r.register_version("m", run_id="0" * 32, artifact_path="model", actor="x"),
            None,
            "not found",
        ),
        (lambda r, run: r.set_alias("m", "Production", 1, actor="x"), "alias", "lowercase word"),
        (lambda r, run: r.set_alias("m", "production", 0, actor="x"), "version", "whole number from 1"),
        (lambda r, run: r.set_alias("nope", "production", 1, actor="x"), None, "model 'nope' not found"),
        (lambda r, run: r.set_alias("m", "production", 9, actor="x"), None, "no version 9"),
        (lambda r, run: r.get_version("m/x"), "ref", "whole number from 1"),
        (lambda r, run: r.create_model("o", owners={"chef": "x"}, actor="x"), "owners.chef", "is not a role"),
        (lambda r, run: r.rollback("m", "production", actor="x"), None, "no alias 'production'"),
    ],
)
def test_bad_input_is_named_and_changes_nothing(
    platform: Platform, call: object, field: str | None, message: str
) -> None:
    registry = registry_of(platform)
    run_id = run_with_model(platform)
    registry.register_version("m", run_id=run_id, artifact_path="model", actor="x")
    before = registry.list_versions("m"), registry.aliases("m")
    with pytest.raises((InvalidParameter, NotFound, Conflict), match=message) as refused:
        call(registry, run_id)  # type: ignore[operator]
    if field is not None:
        assert isinstance(refused.value, InvalidParameter) and refused.value.field == field
    assert (registry.list_versions("m"), registry.aliases("m")) == before
