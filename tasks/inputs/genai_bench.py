"""GenAI-Bench's prompts with their skill tags (Li et al., 2024; linzhiqiu/t2v_metrics genai_bench/).

Read as t2v_metrics' GenAIBench_Image reads them: `genai_image.json` ({"00000": {"prompt": ...}, ...})
and `genai_skills.json` ({skill: [prompt index, ...]}) of the hub dataset BaiqiL/GenAI-Bench-1600
(the 527-prompt set of the VQAScore paper: zhiqiulin/GenAI-Bench-527), or of a local folder holding
both files. Not shipped: this machine could not fetch them, so the hub copy is read through the hub
cache (offline: a one-line error saying how to get it). Each prompt's skills become groups
`skill:<name>`; its challenge is GenAI-Bench's tier, `advanced` when it has any advanced skill, else
`basic` (t2v_metrics' tag_groups).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from artifacts.errors import BadInput

GENAI_BENCH_HUB = "BaiqiL/GenAI-Bench-1600"
FILES = ("genai_image.json", "genai_skills.json")
BASIC_SKILLS = ("attribute", "scene", "spatial relation", "action relation", "part relation")
ADVANCED_SKILLS = ("counting", "comparison", "differentiation", "negation", "universal")
TIERS = ("basic", "advanced", "all")


def _hub_files(repo: str) -> list[Path]:
    from huggingface_hub import hf_hub_download

    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    try:
        return [Path(hf_hub_download(repo, name, repo_type="dataset", local_files_only=offline)) for name in FILES]
    except Exception as exc:  # the hub client raises many types for "offline" / "not found"
        raise BadInput(f"prompts: genai-bench: {', '.join(FILES)} of hub dataset '{repo}' are not in the local hub cache "
                       f"({type(exc).__name__}); run once online, or set prompts.path to a folder holding both files") from None


def genai_bench_files(path: str | None, base_dir: Path) -> list[Path]:
    """The two JSON files: from a local folder, or from the hub dataset `path` (default BaiqiL/GenAI-Bench-1600)."""
    if path is not None:
        local = Path(path).expanduser()
        local = local if local.is_absolute() else (base_dir / local)
        if local.is_dir():
            missing = [name for name in FILES if not (local / name).is_file()]
            if missing:
                raise BadInput(f"prompts: genai-bench: {local} lacks {', '.join(missing)}; pass a folder holding {' and '.join(FILES)}")
            return [local / name for name in FILES]
    return _hub_files(path or GENAI_BENCH_HUB)


def genai_bench_rows(path: str | None, base_dir: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """(prompt text, tier, skills) of every prompt, in index order."""
    images_file, skills_file = genai_bench_files(path, base_dir)
    prompts = json.loads(images_file.read_text(encoding="utf-8"))
    skills: dict[str, list[str]] = {}
    for skill, indices in json.loads(skills_file.read_text(encoding="utf-8")).items():
        if skill not in TIERS:
            for index in indices:
                skills.setdefault(f"{int(index):05d}", []).append(skill)
    rows = []
    for key in sorted(prompts):
        mine = tuple(sorted(skills.get(key, [])))
        tier = "advanced" if any(s in ADVANCED_SKILLS for s in mine) else "basic"
        rows.append((prompts[key]["prompt"].strip(), tier, mine))
    return rows
