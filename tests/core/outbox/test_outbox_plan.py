"""The no-skip rule on its own (`entities.plan`): which ids a reader may deliver, and when a gap
may be passed over."""

from __future__ import annotations

import pytest

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.outbox import Cursor
from plimsoll.core.outbox.entities import plan


def no_xid() -> int:
    raise AssertionError("no gap is recorded here, so no xid may be taken")


def test_commit_ordered_backends_pass_gaps_at_once() -> None:
    assert plan(Cursor(0), [1, 2, 5], None, no_xid) == (3, Cursor(5))


def test_a_gap_holds_the_reader_until_every_transaction_that_may_fill_it_has_ended() -> None:
    count, cursor = plan(Cursor(0), [1, 2, 4, 5], 100, lambda: 107)
    assert (count, cursor) == (2, Cursor(2, gap_below=5, gap_xid=107))
    # Still in flight: no progress, and the first record is kept (a busy server cannot postpone it).
    assert plan(cursor, [4, 5, 6], 106, no_xid) == (0, cursor)
    # Id 3 committed meanwhile: delivered in order.
    assert plan(cursor, [3, 4, 5, 6], 106, no_xid) == (4, Cursor(6))
    # Or every transaction older than the record has ended and 3 is still missing: missing for good.
    count, after = plan(cursor, [4, 5, 6, 8], 107, lambda: 121)
    assert count == 3
    # ... but id 7 may have been taken after the record: the new gap gets a record of its own.
    assert after == Cursor(6, gap_below=8, gap_xid=121)


def test_a_settled_record_never_passes_ids_above_it() -> None:
    cursor = Cursor(2, gap_below=5, gap_xid=105)
    assert plan(cursor, [7], 110, lambda: 130) == (0, Cursor(2, gap_below=7, gap_xid=130))


def test_no_visible_row_above_a_missing_id_is_not_a_gap() -> None:
    assert plan(Cursor(3), [], 1, no_xid) == (0, Cursor(3))
    assert plan(Cursor(3), [4, 5], 1, no_xid) == (2, Cursor(5))


def test_cursor_tokens_round_trip_and_bad_ones_are_refused() -> None:
    for cursor in (Cursor(), Cursor(42), Cursor(2, 5, 105)):
        assert Cursor.decode(cursor.encode()) == cursor
    assert Cursor.decode(None) == Cursor()
    for token in ("x", "-1", "1.2", "1.2.3.4", "1e3", "9" * 19):  # 19 digits may pass int64
        with pytest.raises(InvalidParameter):
            Cursor.decode(token)
