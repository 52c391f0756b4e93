"""Prefect's logs of a run that fails on a one-line error (bad input, the store unreachable) drop the traceback.

The CLI prints such an error as one line that says what to do; Prefect would log it twice more above
that line with a traceback through its engine. Deployments, where no one reads a terminal, keep them.
"""

from __future__ import annotations

import logging

from artifacts.errors import BadInput

PREFECT_RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")


class DropOneLineErrors(logging.Filter):
    """Drop log records that carry a BadInput: the CLI reports it itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], BadInput))


def quiet_one_line_errors() -> None:
    """Install the filter on Prefect's run loggers (once)."""
    for name in PREFECT_RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropOneLineErrors) for f in logger.filters):
            logger.addFilter(DropOneLineErrors())
