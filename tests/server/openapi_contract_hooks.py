"""Schemathesis hooks for the OpenAPI contract test (loaded through SCHEMATHESIS_HOOKS).

Some rules of the API are not JSON Schema: a search filter has a grammar, a page token is one the
server handed out, an expiry lies in the future, a webhook's host must be public, a batch's metric
columns have one length and name each run once. The document says so in words; these hooks keep
the positive cases (those the document calls valid, which the server must accept) within those
rules, each rule named below. Negative cases go out as generated.

The test hands the seeded records' ids over in PLIMSOLL_CONTRACT_EXAMPLES (parameter name ->
value); they become the path parameters' examples, so that the examples phase reaches records
that exist where random ids find none.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import schemathesis

PUBLIC_HOOK_URL = "https://hooks.example.com/in"
FORMAT_URLS = {
    "pagerduty": "https://events.example.com/v2/enqueue?routing_key=R0123456789abcdef0123456789abcde",
    "email": "smtp://mail.example.com:587?to=oncall@example.com&from=plimsoll@example.com",
}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _positive(case: Any) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and bool(meta.generation.mode.is_positive)


def _search(case: Any) -> None:
    # a filter and order_by items follow the search language; a page token comes from a search
    for name in ("filter", "order_by", "page_token"):
        case.body.pop(name, None)


def _history(case: Any) -> None:
    if isinstance(case.query, dict):  # a page token comes from an earlier page
        case.query.pop("page_token", None)


def _token(case: Any) -> None:
    case.body.pop("expires_at", None)  # a time in the future, and so not a constant
    # a role binds a token to a project, which must exist: the document cannot say either
    if case.body.get("project") is None:
        case.body.pop("role", None)
    else:
        case.body["project"] = "default"


def _webhook(case: Any) -> None:
    # a URL whose host is not private, of the format's scheme, holding what the format needs
    # (docs/webhooks.md, "Formats")
    case.body["url"] = FORMAT_URLS.get(case.body.get("format"), PUBLIC_HOOK_URL)


def _run(case: Any) -> None:
    # a parent is a run of the same project that exists (or is created in the same batch)
    case.body.pop("parent_run_id", None)


def _ingest(case: Any) -> None:
    runs, seen = [], set()
    for writes in case.body.get("runs", []):
        if not isinstance(writes, dict) or writes.get("run_id") in seen:
            continue  # each run named once
        seen.add(writes.get("run_id"))
        create = writes.get("create")
        if isinstance(create, dict):
            create.pop("parent_run_id", None)  # as for POST /api/v1/runs
        columns = writes.get("metrics")
        if isinstance(columns, dict):  # columns of one length
            names = ("keys", "values", "steps", "timestamps")
            length = min(len(columns.get(name, [])) for name in names)
            for name in names:
                columns[name] = columns.get(name, [])[:length]
        runs.append(writes)
    case.body["runs"] = runs


def _edge(case: Any) -> None:
    # an edge joins two nodes: `to` is not the node it comes from
    if case.body.get("from") == case.body.get("to") and isinstance(case.body.get("from"), str):
        case.body["to"] = (
            "deployment:other" if case.body["from"] != "deployment:other" else "deployment:another"
        )


# A pandera schema in its YAML: the document says so in words; a string is not one.
PANDERA_SCHEMA = "schema_type: dataframe\ncolumns:\n  DISTANCE:\n    dtype: int64\n"


def _validation(case: Any) -> None:
    case.body["schema"] = PANDERA_SCHEMA


def _feature(case: Any) -> None:
    # a feature is not named like one of its inputs (a table holding both could not tell them apart)
    name, inputs = case.body.get("name"), case.body.get("inputs")
    if isinstance(inputs, list) and name in inputs:
        kept = [column for column in inputs if column != name]
        case.body["inputs"] = kept or [f"{name}_input"]


def _skew(case: Any) -> None:
    # a side's profile is a table summary the statistics engine wrote (base64), with a column for
    # each feature: the document says so in words
    import base64

    from plimsoll import stats

    names = [name for name in case.body.get("features", {}) if isinstance(name, str)]
    summary = stats.summarize({name: [1.0, 2.0, 3.0] for name in names or ["x"]})
    profile = base64.b64encode(stats.to_bytes(summary)).decode("ascii")
    for side in ("training", "serving"):
        if isinstance(case.body.get(side), dict) and "profile" in case.body[side]:
            case.body[side]["profile"] = profile


def _evaluation(case: Any) -> None:
    # metrics name the task's own (on the table and in each slice); fairness and curves are
    # classification's: the document says so in words
    from plimsoll.evaluation.entities import TASKS

    task = case.body.get("task")
    allowed = set(TASKS.get(task, ()))

    def keep(metrics: Any) -> Any:
        return {k: v for k, v in metrics.items() if k in allowed} if isinstance(metrics, dict) else metrics

    case.body["metrics"] = keep(case.body.get("metrics", {}))
    for values in (case.body.get("slices") or {}).values():
        for found in (values or {}).values() if isinstance(values, dict) else ():
            if isinstance(found, dict) and "metrics" in found:
                found["metrics"] = keep(found["metrics"])
    if task != "classification":
        case.body.pop("fairness", None)
        case.body.pop("curves", None)


def _gate_policy(alias: str) -> str:
    return f"alias: {alias}\ngates:\n  - {{metric: roc_auc, min: 0.5}}\n"


def _evidence(case: Any) -> None:
    # a confidence interval's lower bound is at most its upper one: the document says so in words
    evidence = case.body.get("evidence")
    fairness = evidence.get("fairness") if isinstance(evidence, dict) else None
    for measure in fairness.values() if isinstance(fairness, dict) else ():
        if isinstance(measure, dict) and isinstance(measure.get("lower"), int | float):
            upper = measure.get("upper")
            if isinstance(upper, int | float) and measure["lower"] > upper:
                measure["lower"], measure["upper"] = upper, measure["lower"]


def _policy(case: Any) -> None:
    # a policy is YAML naming the alias it guards (docs/gates.md): a string is not one
    alias = (case.path_parameters or {}).get("alias", "production")
    case.body["policy"] = _gate_policy(alias if isinstance(alias, str) else "production")


def _check(case: Any) -> None:
    case.body["policy"] = _gate_policy("production")
    _evidence(case)


# A batch's columns have one value a row, and its ids are unique; predictions name a model
# version that exists (the seeded user's model), and a role only with a deployment.
MONITORING_BODIES: dict[str, dict[str, Any]] = {
    "predictions": {"features": [{"x": 1.5}, {"x": 2.5}], "predictions": [0, 1], "scores": [0.2, 0.9]},
    "labels": {"ids": ["a", "b"], "labels": [0, 1]},
    "outcomes": {"ids": ["a"], "outcomes": {"revenue": [3.5]}},
}


def _monitoring_rows(case: Any) -> None:
    kind = case.operation.path.rsplit("/", 1)[-1]
    case.body = dict(MONITORING_BODIES[kind])
    if isinstance(case.query, dict):
        case.query["project"] = "default"
        if kind == "predictions":
            case.query["model"] = "carol/1"
        else:
            case.query.pop("model", None)
        if not case.query.get("deployment"):
            case.query.pop("role", None)


def _scoring(case: Any) -> None:
    # a scoring names versions that exist, in the seeded user's project: the model version, the
    # dataset version scored and another holding the predictions (the seeded ones)
    case.body.update(
        {"project": "default", "model": "carol/1", "dataset": "carol@1", "output": "carol-scored@1"}
    )


def _deployment(case: Any) -> None:
    # the seeded model's alias (a deployment keeps its model and alias); a canary is another
    # version than the stable one, which the seeded model does not have; a policy's steps
    # increase and end at 100 (docs/serving.md)
    case.body["model"] = "carol@staging"
    for name in ("canary", "weight"):
        case.body.pop(name, None)
    if case.body.get("shadow") is not None:
        case.body["shadow"] = 1
    if isinstance(case.body.get("policy"), dict):
        case.body["policy"].pop("steps", None)


def _traffic_report(case: Any) -> None:
    # each stats' errors and latency counts within its requests, its `until` not before `since`,
    # its latency counts empty or one per bucket (docs/serving.md, "For the model server")
    for stats in case.body.get("stats") or []:
        if not isinstance(stats, dict):
            continue
        stats["errors"] = min(stats.get("errors", 0), stats.get("requests", 0))
        stats["until"] = max(stats.get("until", 0), stats.get("since", 0))
        stats["latency_counts"] = []


def _traffic_read(case: Any) -> None:
    # a stretch that does not end before it starts, nor starts after now when it has no end
    query = case.query if isinstance(case.query, dict) else None
    if query is None:
        return

    def number(name: str) -> int | None:
        value = query.get(name)
        if isinstance(value, str) and value.isdigit():
            return int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    since, until = number("since"), number("until")
    if since is not None and until is not None and since > until:
        query["since"], query["until"] = query["until"], query["since"]
    elif since is not None and until is None and since > int(time.time() * 1000):
        query.pop("since")


def _monitor(case: Any) -> None:
    # a reference of its kind's shape (a dataset's NAME@VERSION), and a window the server allows
    # (at least a minute, at most a year: "1d"); the seeded monitor's model and rules are checked
    # by the server in words the schema cannot hold
    case.body["reference"] = {"kind": "dataset", "dataset": "carol@1"}
    case.body.update(every="1d", window_rows=None, delay="0s", rules=None, extra_rules=None)


def _monitor_rules(case: Any) -> None:
    # a rule's value names a monitored value (docs/monitoring.md lists them)
    case.body["rules"] = [{"name": "quiet", "value": "rows", "op": "==", "threshold": 0}]


def _monitor_stretch(case: Any) -> None:
    # a stretch of at most 10,000 windows, since before until (here: the last two days)
    now = int(time.time() * 1000)
    if case.operation.path.endswith("/backfill"):
        case.body.update(since=now - 2 * 86_400_000, until=now)
    else:
        case.body.update(since=None, until=None)


def _matchers(case: Any) -> None:
    # a matcher's regular expression is one Python compiles and that cannot backtrack without end,
    # and a silence names at least one matcher that an alert lacking the label does not match
    # (docs/alerts.md): the document says so in words
    for name in ("matchers", "source", "target"):
        found = case.body.get(name)
        for matcher in found if isinstance(found, list) else ():
            if isinstance(matcher, dict) and matcher.get("op") in ("=~", "!~"):
                matcher["op"] = "=" if matcher["op"] == "=~" else "!="
    found = case.body.get("matchers")
    if isinstance(found, list) and found and isinstance(found[0], dict):
        found[0]["op"] = "="
        found[0]["value"] = found[0].get("value") or "churn"


def _distribution(case: Any) -> None:
    # a feature the seeded monitor watches (the server names the ones it does)
    if isinstance(case.query, dict):
        case.query["feature"] = "x"


RULES = {
    ("GET", "/api/v1/monitors/{name}/distribution"): _distribution,
    ("POST", "/api/v1/monitors"): _monitor,
    ("PUT", "/api/v1/deployments/{name}"): _deployment,
    ("POST", "/api/v1/deployments/{name}/traffic"): _traffic_report,
    ("GET", "/api/v1/deployments/{name}/traffic"): _traffic_read,
    ("PUT", "/api/v1/monitors/{name}/rules"): _monitor_rules,
    ("POST", "/api/v1/monitors/{name}/backfill"): _monitor_stretch,
    ("POST", "/api/v1/monitors/{name}/check"): _monitor_stretch,
    ("PUT", "/api/v1/models/{name}/aliases/{alias}/policy"): _policy,
    ("POST", "/api/v1/models/{name}/aliases/{alias}/promotions"): _evidence,
    ("POST", "/api/v1/gates/check"): _check,
    ("POST", "/api/v1/runs"): _run,
    ("POST", "/api/v1/runs/search"): _search,
    ("GET", "/api/v1/runs/{run_id}/metrics/{key}/history"): _history,
    ("POST", "/api/v1/users/{name}/tokens"): _token,
    ("POST", "/api/v1/service-accounts"): _token,
    ("POST", "/api/v1/webhooks"): _webhook,
    ("POST", "/api/v1/runs/ingest"): _ingest,
    ("POST", "/api/v1/lineage/edges"): _edge,
    ("GET", "/api/v1/lineage/openlineage"): _history,  # its page token too
    ("POST", "/api/v1/datasets/{name}/versions/{version}/validations"): _validation,
    ("POST", "/api/v1/features"): _feature,
    ("POST", "/api/v1/skew-checks"): _skew,
    ("POST", "/api/v1/evaluations"): _evaluation,
    ("POST", "/api/v1/monitoring/predictions"): _monitoring_rows,
    ("POST", "/api/v1/monitoring/labels"): _monitoring_rows,
    ("POST", "/api/v1/monitoring/outcomes"): _monitoring_rows,
    ("POST", "/api/v1/monitoring/scorings"): _scoring,
    ("POST", "/api/v1/silences"): _matchers,
    ("POST", "/api/v1/inhibitions"): _matchers,
}


def _int64(value: Any) -> Any:
    """The generator compares integers with a schema's `maximum` as floats, so that 2**63 - 1
    admits 2**63 + 191 (the same float): bring such integers back into the range declared."""
    if isinstance(value, dict):
        return {key: _int64(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_int64(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return min(max(value, INT64_MIN), INT64_MAX)
    return value


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if not _positive(case):
        return case
    if isinstance(case.body, dict | list):
        case.body = _int64(case.body)
    if isinstance(case.query, dict):
        case.query = _int64(case.query)
    rule = RULES.get((case.operation.method.upper(), case.operation.path))
    if rule is not None and (isinstance(case.body, dict) or rule in (_history, _distribution, _traffic_read)):
        rule(case)
    return case


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    examples = json.loads(os.environ.get("PLIMSOLL_CONTRACT_EXAMPLES", "{}"))
    for methods in raw_schema.get("paths", {}).values():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") in examples:
                    parameter["example"] = examples[parameter["name"]]
