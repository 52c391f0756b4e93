"""diffeval's own log lines in the Prefect API, wherever the flow run was started.

Prefect sends its run loggers (`prefect.flow_runs`, `prefect.task_runs`) to the API; the `diffeval`
logger that tasks/ and artifacts/ write to is not one of them, so a worker's or a served run's
warnings would reach only that process's terminal. Inside a run the flow attaches Prefect's
APILogHandler to `diffeval` (records outside a run context are not sent, rather than warned about),
and logs the run's closing lines (counts, verdict, report path) with the run's own logger. The CLI
prints those lines itself, so they are kept off its terminal (`keep_summary_off_terminal`).
"""

from __future__ import annotations

import logging

DIFFEVAL_LOGGER = "diffeval"
# Set on the closing lines' records: the CLI's terminal handler drops them (it prints the summary).
SUMMARY_MARK = "diffeval_summary"


class InRunOnly(logging.Filter):
    """Pass records that belong to a Prefect flow or task run (the API drops the rest with a warning)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "flow_run_id", None):
            return True
        from prefect.context import FlowRunContext, TaskRunContext

        return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def send_diffeval_logs_to_api() -> None:
    """Attach Prefect's APILogHandler to the `diffeval` logger, once per process (idempotent).

    Prefect's own switch (PREFECT_LOGGING_TO_API_ENABLED) still decides whether anything is sent; a
    handler already there (PREFECT_LOGGING_EXTRA_LOGGERS=diffeval) is not doubled.
    """
    from prefect.logging.handlers import APILogHandler

    logger = logging.getLogger(DIFFEVAL_LOGGER)
    if any(isinstance(h, APILogHandler) for h in logger.handlers):
        return
    handler = APILogHandler()
    handler.addFilter(InRunOnly())
    logger.addHandler(handler)


class DropSummaryLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, SUMMARY_MARK, False)


def keep_summary_off_terminal() -> None:
    """The CLI prints the run summary itself: its root handlers drop the flow's closing log lines."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, DropSummaryLines) for f in handler.filters):
            handler.addFilter(DropSummaryLines())


def summary_lines(summary: dict) -> list[str]:
    """What a person looks for in a run's log: what was made or reused, the verdict, where the report is."""
    c = summary["counts"]
    return [
        f"run {summary['run_id']} of spec {summary['spec']}: {c['images_planned']} images ({c['images_generated']} generated, "
        f"{c['images_reused']} reused); features {c['features_extracted']} extracted, {c['features_reused']} reused",
        summary["verdict_line"],  # tasks/reporting/baselines.verdict_line: what the terminal and --json say
        f"report: {summary['report']}",
    ]


def log_summary(summary: dict) -> None:
    """The closing lines on the flow run's logger: its terminal, and the Prefect API where logging to it is on."""
    from prefect import get_run_logger

    logger = get_run_logger()
    for line in summary_lines(summary):
        logger.info(line, extra={SUMMARY_MARK: True})
