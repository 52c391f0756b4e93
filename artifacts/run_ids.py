"""Run ids (baselines: tasks/reporting/baselines.py; verdicts: tasks/reporting/verdicts.py)."""

from __future__ import annotations

import time
import uuid


def new_run_id(spec_name: str) -> str:
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{spec_name}-{uuid.uuid4().hex[:6]}"
