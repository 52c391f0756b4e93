"""Metric and column names: one place, used by metrics, tables, reports and the CLI."""

CLIP_SCORE = "clip_score"
CLIP_DIRECTIONAL = "clip_directional_similarity"
CLIP_CONSISTENCY = "clip_image_consistency"
FID = "fid"
KID = "kid"
KID_STD = "kid_std"
IS = "is"
IS_STD = "is_std"
FD_DINOV2 = "fd_dinov2"
CMMD = "cmmd"
PICKSCORE = "pickscore"
HPSV2 = "hpsv2"
GENEVAL = "geneval"
VQASCORE = "vqascore"

GROUP_ALL = "all"

METRIC_COLUMNS = ("model", "metric", "group", "value", "ci_low", "ci_high", "n")
COMPARISON_COLUMNS = ("a", "b", "metric", "diff", "ci_low", "ci_high", "win_rate", "n")

# A metric row's flag: a per-group set metric on fewer images than metrics.min_group_images (kept, not shown).
BELOW_MIN_IMAGES = "below_min_images"

# Fidelity / diversity (tasks/metrics/prdc.py): `<quantity>_<extractor>` rows.
PRDC_QUANTITIES = ("precision", "recall", "density", "coverage")
AESTHETIC = "aesthetic"
TEXT_EDIT_DISTANCE = "text_edit_distance"
TEXT_COMPLETION = "text_completion_rate"
TEXT_WORD_ACCURACY = "text_word_accuracy"
TEXT_SCORE = "text_score"
