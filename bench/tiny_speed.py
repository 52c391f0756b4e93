"""Tiny SD generation speed: seconds per image of the tiny random-weight pipeline on this CPU.

What the removed test `test_sd_speed_on_one_thread` measured, as a figure rather than a pass/fail
(timing in a test fails on a busy machine and says nothing on a quiet one): the tiny SD pipeline
(`tasks.demo.tiny`, 64x64, 4 steps) generating a batch of 4 images, after one untimed warm-up batch.
The flow tests and the demo are sized on it: about 0.05 s per image on one quiet core.

    OMP_NUM_THREADS=1 .venv/bin/python bench/tiny_speed.py --threads 1 --repeats 5
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_parser, bench_setup, machine_line, print_table, timed  # noqa: E402

EXPECTED_PER_IMAGE_S = 0.05  # one quiet core; a shared machine is slower
BATCH, STEPS = 4, 4


def main(argv: list[str] | None = None) -> int:
    args = bench_parser(__doc__.splitlines()[0], repeats=5).parse_args(argv)
    _, models_dir = bench_setup(args, "tiny-speed")
    import torch
    from diffusers import StableDiffusionPipeline

    from tasks.models.resolve import quiet_libraries
    from tasks.demo.tiny import build_tiny_models

    quiet_libraries()
    pipe = StableDiffusionPipeline.from_pretrained(build_tiny_models(models_dir)["sd-a"])
    pipe.set_progress_bar_config(disable=True)

    def batch() -> None:
        pipe(["a cat"] * BATCH, num_inference_steps=STEPS, generator=torch.Generator().manual_seed(0), output_type="np")

    batch()  # warm-up: first-call allocations and kernel selection
    per_image = [timed(batch)[0] / BATCH for _ in range(args.repeats)]
    print(machine_line())
    print_table(f"tiny SD, 64x64, {STEPS} steps, batch {BATCH}", [
        ("seconds per image (median)", f"{statistics.median(per_image):.3f}"),
        ("every repeat", ", ".join(f"{s:.3f}" for s in per_image)),
        ("expected on one quiet core", f"about {EXPECTED_PER_IMAGE_S}"),
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
