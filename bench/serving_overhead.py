"""The model server's overhead in-process (ASGI, no sockets): a bare FastAPI app calling a
registered model's `predict` on a one-row MLflow `dataframe_records` request, against the model
server (signature check, ids, scores, metrics, access log off) with and without the prediction
log. Sequential requests; latencies per request, in ms.

    PYTHONPATH=src python bench/serving_overhead.py [REQUESTS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from fastapi import FastAPI, Request


def main(requests: int) -> None:
    from sklearn.linear_model import LogisticRegression

    from plimsoll.client import Client
    from plimsoll.core.config import Settings
    from plimsoll.serving.app import Options, build_app
    from plimsoll.serving.entities import Routing

    home = Path(tempfile.mkdtemp())
    sdk = Client(settings=Settings(home=home), flush_interval=0.25)
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(400, 4)), columns=["f0", "f1", "f2", "f3"])
    with sdk.start_run(experiment="bench", capture=False) as run:
        run.log_model(
            LogisticRegression().fit(frame, frame.f0 > 0),
            "model",
            input_example=frame.head(3),
            register_as="bench",
        )
    model = sdk.registry.load("bench/1")
    body = {"dataframe_records": frame.head(1).to_dict(orient="records")}

    bare = FastAPI()

    @bare.post("/invocations")
    async def invocations(request: Request) -> dict[str, Any]:
        found = await request.json()
        return {"predictions": model.predict(pd.DataFrame.from_records(found["dataframe_records"])).tolist()}

    routing = Routing("default", "bench", "bench", 1, None, 0.0, None, None, 1)
    apps = {
        "bare FastAPI + predict": (bare, None),
        "model server, no log": (
            build_app(lambda: routing, lambda v: model, None, options=Options(scores=False)),
            None,
        ),
        "model server, logged": (
            build_app(lambda: routing, lambda v: model, sdk.monitoring, options=Options(scores=False)),
            None,
        ),
        "model server, logged + scores": (build_app(lambda: routing, lambda v: model, sdk.monitoring), None),
    }
    for name, (app, _) in apps.items():
        print(f"{name:32s}", run_one(app, body, requests))
    sdk.close()


def run_one(app: Any, body: dict[str, Any], requests: int) -> str:
    async def go() -> list[float]:
        replica = getattr(app.state, "replica", None)
        if replica is not None:
            replica.start()
            while replica.served is None:
                await asyncio.sleep(0.01)
        transport = httpx.ASGITransport(app=app)
        times = []
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for number in range(requests + 200):
                started = time.perf_counter()
                answer = await http.post("/invocations", json=body)
                elapsed = (time.perf_counter() - started) * 1000
                assert answer.status_code == 200, answer.text
                if number >= 200:  # warmed up
                    times.append(elapsed)
        if replica is not None:
            replica.stop()
        return times

    times = sorted(asyncio.run(go()))
    p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
    return f"mean {statistics.mean(times):.3f} ms  p50 {p50:.3f}  p99 {p99:.3f}  ({1000 / statistics.mean(times):.0f} req/s)"


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
