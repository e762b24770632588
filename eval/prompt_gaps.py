"""How much the model reads its prompt, per task family: the prompt gap on the evaluated split.

For each family with an input, a fixed sample of its examples (built the way stage 3 builds them,
from the split's clips, captions, programs and edit pairs) is scored teacher-forced twice: with
each example's own prompt and with the next example's. The gap (shuffled minus matched loss, nats
per answer token) is about 0 for a model that ignores its input and grows as it reads it; the
stage-3 logs report the same quantity on the validation split.
"""

from __future__ import annotations

from pathlib import Path

from eval.data import EvalData
from eval.protocols import TaskResult
from motionchat.bundle import load_bundle
from motionchat.data.labels import read_edits, read_labels_if_any
from motionchat.filenames import LM_DIR
from motionchat.lm.model import load_lm
from trainer.motion_codes import encode_split
from trainer.stage3 import InstructionExamples, TaskSource, family_prompt_gaps


def evaluate_prompt_gaps(bundle_dir: Path, data: EvalData, per_family: int = 64) -> TaskResult:
    bundle = load_bundle(bundle_dir)
    lm = load_lm(Path(bundle_dir) / LM_DIR)  # the trainable model: teacher-forced losses
    lm.model.eval()
    codes = encode_split(data.test, bundle.codec)
    source = TaskSource(data.test, codes, read_labels_if_any(data.root), read_edits(data.root))
    examples = InstructionExamples(source, bundle.families, lm, bundle.fps, bundle.codec.frames_per_code)
    result = TaskResult("prompt_gap")
    gaps = family_prompt_gaps(lm.model, examples, per_family)
    result.add("model", {name.removeprefix("gap_"): value for name, value in gaps.items()})
    result.note(f"{per_family} {data.test.split} examples per family (of the whole split); about 0 means the answer ignores the prompt")
    return result
