"""Tracking's tables and every statement that reads or writes them: nothing else writes SQL for
tracking. Each function takes an open connection; the service owns the transaction.

    schema        the tables (TABLES) and the helpers the modules share
    experiments   experiments, their tags, run counts, projects
    runs          run state, params, tags, ingest statements, the details a page shows
    metrics       series, points, latest values; history reads
    artifacts     which blob each (run, path) holds
    search        the filter language compiled to SQL, ordering and keyset pages
"""

from __future__ import annotations

from plimsoll.tracking.store.artifacts import *  # noqa: F403
from plimsoll.tracking.store.experiments import *  # noqa: F403
from plimsoll.tracking.store.metrics import *  # noqa: F403
from plimsoll.tracking.store.runs import *  # noqa: F403
from plimsoll.tracking.store.schema import *  # noqa: F403
from plimsoll.tracking.store.search_plan import search_page as search_page
