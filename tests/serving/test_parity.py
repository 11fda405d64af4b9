"""Environment parity: a version's training environment (its run's captured document) against
the serving process's; how far each package moved, which matter; and the model server saying so
in its readiness and /metrics for the versions it loads."""

from __future__ import annotations

from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families
from test_model_server import Served, data, trained

from plimsoll.cli.serve import trained_in
from plimsoll.client import Client
from plimsoll.client.capture import capture_environment
from plimsoll.serving.app import Options, build_app
from plimsoll.serving.entities import Routing
from plimsoll.serving.parity import Environment, compare, current_environment
from plimsoll.tracking.entities import ENVIRONMENT_ARTIFACT


def test_differences_are_sized_and_the_model_libraries_flagged() -> None:
    training = Environment(
        "3.11.7",
        {"scikit-learn": "1.5.2", "numpy": "2.1.0", "rich": "13.0.0", "pandas": "2.2.3", "gone": "1.0"},
    )
    serving = Environment(
        "3.12.1",
        {"scikit-learn": "1.6.0", "numpy": "2.1.3", "rich": "14.0.0", "pandas": "2.2.3", "extra": "9"},
    )
    found = compare(training, serving)
    by_name = {d.package: d for d in found.differences}
    assert set(by_name) == {"scikit-learn", "numpy", "rich", "gone"}  # "extra" is the server's own business
    assert (by_name["scikit-learn"].level, by_name["numpy"].level, by_name["rich"].level) == (
        "minor",
        "patch",
        "major",
    )
    assert by_name["gone"].level == "missing" and by_name["gone"].serving is None
    assert [d.package for d in found.critical] == ["numpy", "scikit-learn"]
    assert found.python_differs
    assert found.summary().startswith("Python 3.11.7 -> 3.12.1; numpy 2.1.0 -> 2.1.3; scikit-learn")
    assert compare(serving, serving).summary() == "same packages as where it trained"


def test_a_captured_environment_reads_back_as_this_process() -> None:
    document = capture_environment().artifacts[ENVIRONMENT_ARTIFACT]
    assert compare(Environment.from_document(document), current_environment()).differences == ()


def test_the_server_says_a_version_trained_with_another_scikit_learn(sdk: Client) -> None:
    here = current_environment()
    packages = [
        {"name": n, "version": "0.24.2" if n == "scikit-learn" else v} for n, v in here.packages.items()
    ]
    with sdk.start_run(experiment="parity", capture=False) as run:
        run.log_model(trained("f0"), "model", input_example=data(3, 1), register_as="parity")
        run.log_text(
            orjson.dumps({"python": here.python, "packages": packages}).decode(), ENVIRONMENT_ARTIFACT
        )
    routing = Routing("default", "parity-prod", "parity", 1, None, 0.0, None, None, 1)
    app = build_app(
        lambda: routing,
        lambda version: sdk.registry.load(f"parity/{version}"),
        None,
        options=Options(poll_interval=0.05),
        trained_in=trained_in(sdk, "default", "parity"),
    )
    served = Served(app)
    try:
        ready = served.ready()
        assert ready["environment"]["1"]["critical"] == ["scikit-learn"]
        assert "scikit-learn 0.24.2 -> " in ready["environment"]["1"]["summary"]
        answer = served.http.post(
            "/invocations", json={"dataframe_records": data(2, 3).to_dict(orient="records")}
        )
        assert answer.status_code == 200  # it serves, and says what differs
        gauges = _samples(served.http.get("/metrics").text)
        assert gauges["plimsoll_serving_environment_critical_differences"] == 1.0
    finally:
        served.stop()


def _samples(text: str) -> dict[str, Any]:
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}
