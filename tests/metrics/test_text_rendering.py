"""Text rendering: OneIG-Bench's text scores on hand-made strings (against a transcription of its text_utils.py /
text_score.py), which prompts ask for text, and the OCR extractor on a tiny random TrOCR."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tasks.extractors.ocr import codes_to_texts, load_trocr, ocr_extractor, texts_to_codes
from tasks.metrics.text_rendering import normalise, oneig_text_score, quoted_strings, strip_hallucinations, text_scores

# --- OneIG-Benchmark scripts/text/text_utils.py + text_score.py, transcribed as its code does them ---


def _ref_preprocess(s):
    cleaned = re.sub(r"[^\u4e00-\u9fa5a-zA-Z0-9\sàâäéèêëîïôöùûüçÀÂÄÉÈÊËÎÏÔÖÙÛÜÇ]", "", s)
    if re.search("[\u4e00-\u9fff]", cleaned):
        return "".join(re.compile(r"[\u4e00-\u9fa5a-zA-Z0-9àâäéèêëîïôöùûüçÀÂÄÉÈÊËÎÏÔÖÙÛÜÇ]").findall(s)).strip()
    return re.sub(r"\s+", " ", cleaned).strip()


def _ref_levenshtein(s1, s2):
    m = np.zeros((len(s1) + 1, len(s2) + 1))
    for i in range(len(s1) + 1):
        m[i][0] = i
    for j in range(len(s2) + 1):
        m[0][j] = j
    for i in range(1, len(s1) + 1):
        for j in range(1, len(s2) + 1):
            m[i][j] = min(m[i - 1][j] + 1, m[i][j - 1] + 1, m[i - 1][j - 1] + (0 if s1[i - 1] == s2[j - 1] else 1))
    return m[len(s1)][len(s2)]


def _ref_match(text_gt, ocr_str):
    if re.search("[\u4e00-\u9fff]", text_gt):
        gt, ocr = Counter(text_gt), Counter(ocr_str)
        total = sum((gt & ocr).values())
        return total, total / len(text_gt) if len(text_gt) > 0 else 0.0, sum(gt.values())
    gt, ocr = Counter(text_gt.split()), Counter(ocr_str.split())
    total = sum((gt & ocr).values())
    n = len(text_gt.split())
    return total, total / n if n > 0 else 0.0, sum(gt.values())


def _ref_model_score(pairs, max_ed=100):
    eds, crs, matches, counts = [], [], [], []
    for gt, ocr in pairs:
        gt_p, ocr_p = _ref_preprocess(gt), _ref_preprocess(ocr.replace("addCriterion", "").replace("No text recognized.", ""))
        ed = _ref_levenshtein(ocr_p, gt_p)
        match, _, count = _ref_match(gt_p, ocr_p)
        eds.append(ed), crs.append(1 if ed == 0 else 0), matches.append(match), counts.append(count)
    ED, CR, WAC = sum(eds) / len(eds), sum(crs) / len(crs), sum(matches) / sum(counts)
    return 1 - min(max_ed, ED) * (1 - CR) * (1 - WAC) / max_ed, eds, crs


PAIRS = [  # (what the prompt asks for, what the OCR read)
    ("Hello World", "Hello World"),
    ("Very Deep Learning", "VERY deep Learnin g!"),
    ("BE EXCELLENT TO EACH OTHER", "BE EXCELENT TO EACH OTHER OTHER"),
    ("Google Research Pizza Cafe", "No text recognized."),
    ("Café Crème", "Cafe Crème addCriterion"),
    ("深度学习 2025", "深度学 2025"),
    ("the the cat", "the cat cat"),
]


def test_scores_equal_oneig_transcription():
    reference, ref_eds, ref_crs = _ref_model_score(PAIRS)
    ours = [text_scores(normalise(gt), normalise(strip_hallucinations(ocr))) for gt, ocr in PAIRS]
    assert [s["edit_distance"] for s in ours] == ref_eds
    assert [s["completion"] for s in ours] == ref_crs
    for s, (gt, ocr) in zip(ours, PAIRS):
        match, ratio, count = _ref_match(_ref_preprocess(gt), _ref_preprocess(strip_hallucinations(ocr)))
        assert (s["matched"], s["word_accuracy"], s["words"]) == (match, ratio, count)
    score = oneig_text_score(*([s[k] for s in ours] for k in ("edit_distance", "completion", "matched", "words")))
    assert score == pytest.approx(reference, abs=1e-12)
    assert 0 < score < 1


def test_hand_made_values():
    s = text_scores(normalise("Very Deep Learning"), normalise("VERY deep Learnin g!"))
    assert s["edit_distance"] == 5.0  # "ERY" -> "ery" (3), "D" -> "d" (1), the space in "Learnin g" (1); "!" dropped
    assert s["completion"] == 0.0 and s["matched"] == 0 and s["words"] == 3
    exact = text_scores("Hello World", "Hello World")
    assert exact == {"edit_distance": 0.0, "completion": 1.0, "word_accuracy": 1.0, "matched": 2, "words": 2}
    assert oneig_text_score([0.0], [1.0], [2], [2]) == 1.0
    assert oneig_text_score([250.0], [0.0], [0], [3]) == 0.0  # the edit distance is capped at 100


@pytest.mark.parametrize("prompt, asked", [
    ('A green sign that says "Very Deep Learning" and is at the edge of the Grand Canyon.', ["Very Deep Learning"]),
    ("A storefront with 'Hello World' written on it.", ["Hello World"]),
    ("Portrait of a tiger wearing a train conductor's hat and holding a skateboard that's red.", []),
    ("a poster saying “Open” and \"Closed\"", ["Open", "Closed"]),
    ("A cat on a mat.", []),
])
def test_which_prompts_ask_for_text(prompt, asked):
    assert quoted_strings(prompt) == asked


def test_parti_and_drawbench_text_prompts_are_found():
    data = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not (data / "drawbench.csv").is_file():
        pytest.skip("../shared/data (the published DrawBench file) is absent")
    lines = [line for line in (data / "drawbench.csv").read_text(encoding="utf-8").splitlines() if line.endswith(",Text")]
    assert lines and sum(bool(quoted_strings(line)) for line in lines) >= len(lines) * 0.5


def test_code_points_round_trip():
    texts = ["", "Hello World", "Café 深度 ✓", "x" * 2000]
    back = codes_to_texts(texts_to_codes(texts))
    assert back[:3] == texts[:3] and back[3] == "x" * 1024


def test_trocr_extractor_reads_as_the_model_does_and_batches_do_not_matter(tmp_path):
    from tasks.demo.tiny_quality_models import build_quality_models
    from tasks.models.resolve import resolve_model

    folder = build_quality_models(tmp_path / "m", ("trocr",))["trocr"]
    resolved = resolve_model(str(folder), kind="ocr")
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in [(90, 40), (64, 64), (120, 33)]]
    pairs = []
    for i, im in enumerate(images):
        path = tmp_path / f"{i}.png"
        im.save(path)
        pairs.append((str(i), path.read_bytes()))
    direct = load_trocr(resolved, "cpu", 8)([Image.open(tmp_path / f"{i}.png") for i in range(3)])
    one = codes_to_texts(ocr_extractor(resolved, "trocr", "cpu", 8, batch_size=1).batch(pairs)["codes"])
    three = codes_to_texts(ocr_extractor(resolved, "trocr", "cpu", 8, batch_size=3).batch(pairs)["codes"])
    assert one == three == direct
    assert any(direct)  # random weights read something


def test_a_prompt_file_column_names_the_text(tmp_path):
    from artifacts.errors import BadInput
    from tasks.inputs.prompts import prompt_id_of
    from tasks.metrics.text_rendering import asked_strings, enabled
    from tasks.values.units import Condition
    from tasks.spec import spec_from_dict

    (tmp_path / "prompts.csv").write_text('prompt,sign\na shop front,OPEN 24H\n"a sign saying ""ignored""",\n', encoding="utf-8")
    spec = lambda column: spec_from_dict({"name": "s", "models": [{"name": "m", "path": "x"}],  # noqa: E731
                                          "prompts": {"source": "file", "path": "prompts.csv"},
                                          "metrics": {"text_rendering": {"column": column}}}, base_dir=tmp_path)
    shop = Condition(prompt_id_of("a shop front"), {}, "a shop front", "a shop front")
    quoted = Condition(prompt_id_of('a sign saying "ignored"'), {}, 'a sign saying "ignored"', "")
    assert enabled(spec("sign"))
    assert asked_strings(spec("sign"), shop) == ["OPEN 24H"]
    assert asked_strings(spec("sign"), quoted) == []  # a blank cell: no text asked, whatever the prompt quotes
    with pytest.raises(BadInput, match=r"column 'words': not a column of .*prompts.csv \(found: prompt, sign\)"):
        enabled(spec("words"))
