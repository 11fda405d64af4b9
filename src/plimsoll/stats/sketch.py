"""HyperLogLog: a mergeable estimate of how many distinct labels a categorical column holds.

Only needed once a categorical summary stops listing every label (see ``CategoricalSummary``); while it
lists them all, the distinct count is exact. With ``2**12`` registers the relative standard error is
1.04 / sqrt(4096) ≈ 1.6 %. Labels are hashed with pandas' keyed SipHash, which is stable across
processes and machines, so registers from different workers merge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

REGISTER_BITS = 12
REGISTER_COUNT = 1 << REGISTER_BITS
RELATIVE_STANDARD_ERROR = 1.04 / math.sqrt(REGISTER_COUNT)


def hll_registers(labels: Sequence[str]) -> NDArray[np.uint8]:
    registers = np.zeros(REGISTER_COUNT, dtype=np.uint8)
    if not labels:
        return registers
    hashes = pd.util.hash_array(np.asarray(labels, dtype=object)).astype(np.uint64)
    index = (hashes >> np.uint64(64 - REGISTER_BITS)).astype(np.int64)
    rest = (hashes << np.uint64(REGISTER_BITS)) | np.uint64(1 << (REGISTER_BITS - 1))
    # Position of the leading one bit in the remaining 52 bits, counted from 1.
    rank = np.clip(64 - np.floor(np.log2(rest.astype(np.float64))).astype(np.int64), 1, 64).astype(np.uint8)
    np.maximum.at(registers, index, rank)
    return registers


def hll_estimate(registers: NDArray[np.uint8]) -> float:
    m = float(REGISTER_COUNT)
    alpha = 0.7213 / (1.0 + 1.079 / m)
    raw = alpha * m * m / float(np.sum(np.ldexp(1.0, -registers.astype(np.int64))))
    zeros = int(np.count_nonzero(registers == 0))
    if raw <= 2.5 * m and zeros:
        return m * math.log(m / zeros)
    return raw
