"""The no-skip rule on its own (`entities.plan`): which ids a reader may deliver, and when a gap
may be passed over."""

from __future__ import annotations

import pytest

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.outbox import Cursor
from plimsoll.core.outbox.entities import Horizon, plan

SQLITE = Horizon(None, None)


def test_commit_ordered_backends_pass_gaps_at_once() -> None:
    assert plan(Cursor(0), [1, 2, 5], SQLITE) == (3, Cursor(5))


def test_a_gap_holds_the_reader_until_every_transaction_that_may_fill_it_has_ended() -> None:
    count, cursor = plan(Cursor(0), [1, 2, 4, 5], Horizon(xmin=100, xmax=105))
    assert (count, cursor) == (2, Cursor(2, gap_below=5, gap_xmax=105))
    # Still in flight: no progress, and the first record is kept (a busy server cannot postpone it).
    assert plan(cursor, [4, 5, 6], Horizon(xmin=104, xmax=120)) == (0, cursor)
    # Id 3 committed meanwhile: delivered in order.
    assert plan(cursor, [3, 4, 5, 6], Horizon(xmin=104, xmax=120)) == (4, Cursor(6))
    # Or every transaction of then has ended and 3 is still missing: missing for good.
    count, after = plan(cursor, [4, 5, 6, 8], Horizon(xmin=105, xmax=121))
    assert count == 3
    # ... but id 7 was taken after the record: the new gap gets a record of its own.
    assert after == Cursor(6, gap_below=8, gap_xmax=121)


def test_a_settled_record_never_passes_ids_above_it() -> None:
    cursor = Cursor(2, gap_below=5, gap_xmax=105)
    count, after = plan(cursor, [7], Horizon(xmin=110, xmax=130))
    assert (count, after) == (0, Cursor(2, gap_below=7, gap_xmax=130))


def test_no_visible_row_above_a_missing_id_is_not_a_gap() -> None:
    assert plan(Cursor(3), [], Horizon(1, 2)) == (0, Cursor(3))
    assert plan(Cursor(3), [4, 5], Horizon(1, 2)) == (2, Cursor(5))


def test_cursor_tokens_round_trip_and_bad_ones_are_refused() -> None:
    for cursor in (Cursor(), Cursor(42), Cursor(2, 5, 105)):
        assert Cursor.decode(cursor.encode()) == cursor
    assert Cursor.decode(None) == Cursor()
    for token in ("x", "-1", "1.2", "1.2.3.4", "1e3"):
        with pytest.raises(InvalidParameter):
            Cursor.decode(token)
