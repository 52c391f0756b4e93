"""Class-conditioned inputs: ImageNet-style labels resolved the way DiTPipeline.get_label_ids does."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from artifacts.errors import BadInput
from tasks.values.units import Condition
from tasks.spec import EvalSpec


def pipeline_labels(local_dir: str) -> dict[str, int]:
    """label word → class id from a pipeline folder's id2label (as DiTPipeline.__init__ builds it)."""
    index = json.loads((Path(local_dir) / "model_index.json").read_text())
    id2label = index.get("id2label")
    if not id2label:
        raise BadInput(f"model '{local_dir}': model_index.json has no id2label; use classes: {{ids: [...]}} or add the labels")
    labels = {}
    for key, value in id2label.items():
        for label in value.split(","):
            labels[label.strip()] = int(key)
    return dict(sorted(labels.items()))


def words_to_ids(words: list[str], labels: dict[str, int]) -> list[int]:
    """Class ids of label words, as DiTPipeline.get_label_ids maps them; an unknown word names the closest labels."""
    for word in words:
        if word not in labels:
            close = difflib.get_close_matches(word, list(labels), n=3, cutoff=0.5)
            hint = f"closest labels: {', '.join(close)}" if close else "see the pipeline's id2label for valid labels"
            raise BadInput(f"classes.words: unknown label '{word}'; {hint}")
    # get_label_ids is `[self.labels[w] for w in words]` over the labels pipeline_labels builds; looked
    # up here because importing diffusers for it would cost a warm run seconds.
    return [labels[word] for word in words]


def _file_entries(path: Path) -> list[str]:
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"classes.path {path}: cannot read ({type(exc).__name__}); give a text file with one label or id per line") from None
    return [line for line in lines if line and not line.startswith("#")]


def spec_to_class_conditions(spec: EvalSpec, local_dir: str) -> list[Condition]:
    """One condition per distinct class id: the key holds the id, CLIP-free text holds the label."""
    classes = spec.classes
    labels = pipeline_labels(local_dir)
    names_by_id: dict[int, str] = {}
    for name, cid in labels.items():
        names_by_id.setdefault(cid, name)
    if classes.ids is not None:
        ids = list(classes.ids)
    else:
        entries = classes.words if classes.words is not None else _file_entries(Path(spec.resolve_path(classes.path)))
        ids = [int(e) if e.isdigit() else words_to_ids([e], labels)[0] for e in entries]
    bad = [i for i in ids if i not in names_by_id]
    if bad:
        raise BadInput(f"classes.ids: unknown class id(s) {bad[:5]}; the model knows ids {min(names_by_id)}..{max(names_by_id)}")
    if not ids:
        raise BadInput("classes: no classes given; list words or ids")
    rows = []
    for cid in dict.fromkeys(ids):
        label = names_by_id[cid]
        rows.append(Condition(f"class-{cid}", {"class_id": cid}, label, label, (f"class:{label}",), {"class_id": cid, "label": label}))
    return rows
