"""GenEval's prompt set (553 prompts in six tasks) and each prompt's object clauses, shipped with diffeval.

tasks/inputs/data/geneval_metadata.jsonl is upstream's prompts/evaluation_metadata.jsonl (MIT, see
data/NOTICE): one JSON object per prompt with its `tag` (the task), `include` / `exclude` clauses and
`prompt`. `prompts: {source: geneval}` reads it as prompt rows whose challenge is the task, so
`per_challenge: N` samples N prompts of each task and every score breaks down per task.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path

from artifacts.errors import BadInput

METADATA_FILE = "geneval_metadata.jsonl"
OBJECT_NAMES_FILE = "geneval_object_names.txt"
# GenEval's colour classes (evaluate_images.py), in its order: a prompt's colour and a detected object's are one of them.
COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white")
GENEVAL_GROUP = "challenge"  # the condition group kind that holds a GenEval prompt's task


def _data_text(name: str) -> str:
    return (resources.files(__package__) / "data" / name).read_text(encoding="utf-8")


@functools.cache
def geneval_metadata(path: str | None = None) -> dict[str, dict]:
    """Prompt text -> its metadata, from the shipped file or `path` (a JSONL file in upstream's format)."""
    text = _data_text(METADATA_FILE) if path is None else Path(path).read_text(encoding="utf-8")
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if not {"tag", "prompt", "include"} <= set(row):
                raise BadInput(f"{path or METADATA_FILE}: line {number} lacks tag, prompt or include; "
                               "pass a file in GenEval's evaluation_metadata.jsonl format")
            out[row["prompt"].strip()] = row
    return out


@functools.cache
def geneval_classnames() -> tuple[str, ...]:
    """The 80 COCO class names in the detector's label order (upstream's object_names.txt)."""
    return tuple(line.strip() for line in _data_text(OBJECT_NAMES_FILE).splitlines() if line.strip())


def geneval_rows() -> list[tuple[str, str]]:
    """(prompt text, task) of every shipped prompt, in the file's order."""
    return [(text, row["tag"]) for text, row in geneval_metadata().items()]


def metadata_for(texts: list[str], path: str | None = None) -> dict[str, dict]:
    """The metadata of each text; the first prompt without any is one line naming it and the fix."""
    table = geneval_metadata(path)
    for text in texts:
        if text.strip() not in table:
            source = path or "GenEval's evaluation_metadata.jsonl"
            raise BadInput(f"metrics.geneval: prompt '{text}' has no GenEval metadata in {source}; score GenEval prompts "
                           "(prompts: {source: geneval}) or set metrics.geneval.metadata to a file that lists this prompt")
    return {text: table[text.strip()] for text in texts}
