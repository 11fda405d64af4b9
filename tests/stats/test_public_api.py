from __future__ import annotations

import plimsoll.stats as stats


def _isort_key(name: str) -> tuple[int, str]:
    # Constants, then classes, then functions: the order ruff's RUF022 keeps.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_every_name_exists() -> None:
    assert list(stats.__all__) == sorted(stats.__all__, key=_isort_key)
    for name in stats.__all__:
        assert hasattr(stats, name), name


def test_the_issue_example_runs() -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    reference_df = pd.DataFrame({"AIR_TIME": rng.gamma(4.0, 30.0, 2000)})
    current_df = pd.DataFrame({"AIR_TIME": rng.gamma(4.0, 31.0, 1500)})
    ref = stats.summarize(reference_df)
    cur = stats.summarize(current_df, reference=ref)
    merged = stats.merge([cur, cur])
    report = stats.compare(ref, merged, alpha=0.05)
    assert report.columns["AIR_TIME"].method in stats.METHODS
    assert isinstance(report.to_dict()["drifted"], bool)
    unbinned = stats.compare(ref, stats.summarize(current_df))  # re-binned from its own edges
    assert unbinned.columns["AIR_TIME"].error_bound > 0
    est = stats.estimate_performance([0.1, 0.9, 0.2, 0.8] * 10, [0, 1, 0, 1] * 10, [0.15, 0.85] * 30)
    assert est.metrics["accuracy"].value is not None
