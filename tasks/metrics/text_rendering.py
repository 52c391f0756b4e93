"""Text rendering: does the image show the text its prompt asks for? OneIG-Bench's text scores.

Which text: the prompt file's `column` (metrics.text_rendering.column) where the spec names one, else
the prompt's quoted strings ("...", “...”, or '...' not part of a word: PartiPrompts' Writing &
Symbols, DrawBench's Text); prompts without any are left out and counted. An OCR model reads
each image (tasks/extractors/ocr.py, cached). Scored as OneIG-Benchmark scripts/text (text_score.py,
text_utils.py), transcribed: both strings through preprocess_string (keep letters, digits, accented
Latin, CJK and whitespace; collapse whitespace), the reference being the quoted strings in order;
per image the edit distance (Levenshtein), completion (1 when the distance is 0) and word accuracy
(matched words, counted with multiplicity, over the reference's words; characters for Chinese).
The model's OneIG text score = 1 - min(100, ED) (1 - CR) (1 - WAC) / 100 with ED, CR image means and
WAC = sum of matches / sum of reference words (oneig_text_score; 50 for OneIG's Chinese set).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from pathlib import Path
from typing import Literal

import numpy as np

from artifacts.errors import BadInput
from artifacts import features as cache
from tasks.extractors.ocr import codes_to_texts, ocr_extractor
from pydantic import Field

from tasks.spec_metrics import Frozen
from tasks.values.metric import SampleMetric, register
from tasks.values.names import TEXT_COMPLETION, TEXT_EDIT_DISTANCE, TEXT_WORD_ACCURACY

MAX_EDIT_DISTANCE = 100  # OneIG-Bench's EN setting
_KEEP = "a-zA-Z0-9àâäéèêëîïôöùûüçÀÂÄÉÈÊËÎÏÔÖÙÛÜÇ"
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|(?<!\w)'([^']+)'(?!\w)")
HALLUCINATIONS = ("addCriterion", "No text recognized.")  # what OneIG strips from its OCR outputs


def quoted_strings(prompt: str) -> list[str]:
    """The strings a prompt asks to be written, in order (apostrophes inside words are not quotes)."""
    return [next(g for g in m.groups() if g is not None).strip() for m in _QUOTED.finditer(prompt)]


def _chinese(text: str) -> bool:
    return re.search("[\u4e00-\u9fff]", text) is not None


def normalise(text: str) -> str:
    """OneIG's preprocess_string."""
    kept = re.sub(f"[^\u4e00-\u9fa5{_KEEP}\\s]", "", text)
    if _chinese(kept):
        return "".join(re.findall(f"[\u4e00-\u9fa5{_KEEP}]", text)).strip()
    return re.sub(r"\s+", " ", kept).strip()


def strip_hallucinations(text: str) -> str:
    for word in HALLUCINATIONS:
        text = text.replace(word, "")
    return text


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute: cost 1 each), two rows at a time."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def word_matches(reference: str, read: str) -> tuple[int, int]:
    """(matched, reference count): words counted with multiplicity (characters when the reference is Chinese)."""
    ref, got = (Counter(reference), Counter(read)) if _chinese(reference) else (Counter(reference.split()), Counter(read.split()))
    return sum((ref & got).values()), sum(ref.values())


def text_scores(reference: str, read: str) -> dict[str, float]:
    """One image: edit distance, completion, word accuracy, and the match counts behind it (normalised strings in)."""
    distance = edit_distance(read, reference)
    matched, total = word_matches(reference, read)
    return {"edit_distance": float(distance), "completion": float(distance == 0),
            "word_accuracy": matched / total if total else 0.0, "matched": matched, "words": total}


def oneig_text_score(edit_distances, completions, matched, words, max_edit_distance: int = MAX_EDIT_DISTANCE) -> float:
    """OneIG's model-level text score from per-image values (WAC micro-averaged over words)."""
    ed, cr = float(np.mean(edit_distances)), float(np.mean(completions))
    wac = float(np.sum(matched)) / float(np.sum(words))
    return 1.0 - min(max_edit_distance, ed) * (1.0 - cr) * (1.0 - wac) / max_edit_distance


@functools.lru_cache(maxsize=8)
def _column_texts(prompts_json: str, base_dir: str, column: str) -> dict[str, str]:
    """prompt_id -> the text to render from the prompt file's `column` (blank cells left out)."""
    from tasks.inputs.prompt_files import columns_to_roles
    from tasks.inputs.prompts import prompt_id_of, spec_to_table
    from tasks.spec import PromptsSpec

    prompts = PromptsSpec.model_validate_json(prompts_json)
    name, (columns, records) = spec_to_table(prompts, Path(base_dir))
    if column not in columns:
        raise BadInput(f"metrics.text_rendering.column '{column}': not a column of {name.removeprefix('prompts: ')} "
                       f"(found: {', '.join(columns)}); name the column holding the text to render")
    prompt = columns_to_roles(columns, prompts.columns, name)["prompt"]
    out = {}
    for record in records:
        text, wanted = record.get(prompt), record.get(column)
        if isinstance(text, str) and text.strip() and isinstance(wanted, str) and wanted.strip():
            out[prompt_id_of(text.strip())] = wanted.strip()
    return out


def asked_strings(spec, condition) -> list[str]:
    """What a condition's prompt asks to be written: its `column` cell when the spec names one, else its quoted strings."""
    column = spec.metrics.text_rendering.column if spec.metrics.text_rendering is not None else None
    if column is None:
        return quoted_strings(condition.text)
    found = _column_texts(spec.prompts.model_dump_json(), spec.base_dir, column).get(condition.condition_id)
    return [found] if found else []


def enabled(spec) -> bool:
    """Whether the spec asks for text rendering (a named column is checked here, when the spec is planned)."""
    if spec.metrics.text_rendering is None:
        return False
    if spec.metrics.text_rendering.column is not None:
        _column_texts(spec.prompts.model_dump_json(), spec.base_dir, spec.metrics.text_rendering.column)
    return True


def reference_text(ctx, item) -> str:
    """The normalised text an item's prompt asks for ("" when none)."""
    return normalise(" ".join(asked_strings(ctx.spec, ctx.condition(item))))


def _extractor(ctx):
    cfg = ctx.spec.metrics.text_rendering
    return ocr_extractor(ctx.prepared.metric_models["text_rendering"], cfg.reader, ctx.device, cfg.max_new_tokens, cfg.batch_size)


def jobs(ctx):
    """OCR over the images of prompts that ask for text only."""
    from artifacts.store import image_rel
    from tasks.extractors.registry import Job

    wanted = [i for i in ctx.items if reference_text(ctx, i)]
    return [Job(_extractor(ctx), {ctx.image_sha[i.key]: image_rel(i.key) for i in wanted})]


def item_scores(ctx) -> list[dict | None]:
    """Per item of ctx.items: its text scores, or None for a prompt that asks for no text."""
    wanted = [i for i in ctx.items if reference_text(ctx, i)]
    codes = cache.gather(ctx.store, _extractor(ctx).fingerprint, [ctx.image_sha[i.key] for i in wanted])["codes"] if wanted else []
    read = dict(zip((i.key for i in wanted), codes_to_texts(codes)))
    return [text_scores(reference_text(ctx, i), normalise(strip_hallucinations(read[i.key]))) if i.key in read else None
            for i in ctx.items]


def _values(field: str):
    def score(ctx) -> np.ndarray:
        return np.array([math.nan if s is None else s[field] for s in item_scores(ctx)])
    return score


_TEST = "tests/metrics/test_text_rendering.py::test_scores_equal_oneig_transcription"
class TextRenderingSpec(Frozen):
    """Text in images: an OCR model reads each image of a prompt asking for text; OneIG-Bench's scores."""

    model: str = "microsoft/trocr-base-printed"
    reader: Literal["trocr"] = "trocr"  # tasks/extractors/ocr.py READERS: how the model is run
    max_new_tokens: int = Field(default=128, gt=0)
    column: str | None = None  # a prompt-file column holding the text to render; else quoted strings of the prompt
    batch_size: int = Field(default=16, gt=0)


METRICS = [register(SampleMetric(
    name=name, better=better, aggregate="mean", reference_test=_TEST, jobs=jobs, score=_values(field),
    settings=TextRenderingSpec, spec_key="text_rendering", model_kind="ocr", enabled=enabled, rank=150 + i))
    for i, (name, field, better) in enumerate(((TEXT_EDIT_DISTANCE, "edit_distance", "lower"),
                                               (TEXT_COMPLETION, "completion", "higher"),
                                               (TEXT_WORD_ACCURACY, "word_accuracy", "higher")))]
