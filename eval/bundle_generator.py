"""The evaluation `Generator` over a trained model bundle.

Prompts are built with `motionchat.tasks.examples.build_prompt`, the same code stage 3 trained
on, and all prompts of a call are generated in one batch. Input motions are encoded once: the
protocols ask about the same test clips in every repeat.

A malformed answer (`generate` reports it, never patches it) still needs something to be scored:
a motion answer is replaced by the request's last known frame repeated (a text-to-motion answer,
which has none, by an all-zero motion), a text answer is scored as far as it got. Every
answer is counted in `tally`, and the report shows the share that was malformed per task.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eval.cache import memoised, motion_key
from eval.generators import AnswerTally, CaptionRequest, DiffRequest, EditRequest, InbetweenRequest, MotionPrompt, PredictRequest
from motionchat.bundle import load_bundle
from motionchat.lm.generation import DecodingConfig, generate
from motionchat.motion.timing import MAX_FRAMES, codes_to_frames
from motionchat.tasks.examples import TaskValues, build_prompt

STAND_INS = {
    "t2m": "each is scored as an all-zero motion",
    "m2t": "an unfinished caption is scored as far as it got, an unusable one as empty",
    "predict": "each is scored as the last given frame repeated",
    "inbetween": "each is scored as the last given frame of the start repeated",
    "edit": "each is scored as the source's last frame repeated",
    "diff": "an unfinished sentence is scored as far as it got, an unusable one as empty",
}


class BundleGenerator:
    name = "model"
    tasks = ("t2m", "m2t", "predict", "inbetween", "edit", "diff")
    samples_differ = True

    def __init__(self, bundle: str | Path, device: str = "cpu", guidance: float = 1.0):
        self.bundle = load_bundle(bundle, device)
        self.guidance = guidance
        self.codec = self.bundle.codec
        self.tally = AnswerTally(STAND_INS)
        self._codes: dict = {}  # motion key -> codes

    def _encode(self, motions: Sequence[np.ndarray]) -> list[list[int]]:
        return memoised(motions, [motion_key(m) for m in motions], self._codes, self.codec.encode_many)

    def _prompts(self, family: str, values: Sequence[TaskValues], seed: int) -> list[str]:
        rng = random.Random(seed)
        family_spec = self.bundle.families[family]
        return [build_prompt(family_spec, v, rng, codebook_size=self.codec.codebook_size, fps=self.bundle.fps) for v in values]

    def _generate(self, task, family, values, seed, output, n_samples=1, frame_limits=None):
        config = DecodingConfig(do_sample=True, top_k=50, num_samples=n_samples, seed=seed, guidance=self.guidance)
        lm = self.bundle.lm
        answers = generate(lm.model, lm.tokenizer, lm.vocab, self._prompts(family, values, seed), output, config,
                           frame_limits=frame_limits)  # fmt: skip
        self.tally.count(task, [a.ok for per_prompt in answers for a in per_prompt])
        return answers

    def _motions(self, answers, frames: Sequence[int], fallbacks: Sequence[np.ndarray], prefixes=None) -> list[np.ndarray]:
        """Each answer's motion of its number of frames (the prefix's codes first), decoded in
        batches; a malformed answer gives its fallback's last frame repeated."""
        prefixes = prefixes or [()] * len(answers)
        good = [i for i, a in enumerate(answers) if a.ok]
        decoded = self.codec.decode_many([list(prefixes[i]) + answers[i].codes for i in good], [frames[i] for i in good])
        motions = [np.repeat(fallback[-1:], n, axis=0) for fallback, n in zip(fallbacks, frames)]
        for i, motion in zip(good, decoded):
            motions[i] = motion.features
        return motions

    def text_to_motion(self, prompts: Sequence[MotionPrompt], n_samples: int, seed: int) -> list[list[np.ndarray]]:
        values = [TaskValues(caption=p.caption, frames=p.frames) for p in prompts]
        answers = self._generate("t2m", "t2m_length", values, seed, "motion", n_samples, [(p.frames, p.frames) for p in prompts])
        zero = np.zeros((1, self.bundle.skeleton.feature_dim), dtype=np.float32)
        flat = self._motions([a for per in answers for a in per], [p.frames for p in prompts for _ in range(n_samples)],
                             [zero] * (len(prompts) * n_samples))  # fmt: skip
        return [flat[i * n_samples : (i + 1) * n_samples] for i in range(len(prompts))]

    def motion_to_text(self, requests: Sequence[CaptionRequest], seed: int) -> list[str]:
        codes = self._encode([r.motion for r in requests])
        values = [TaskValues(motion=c, frames=len(r.motion)) for c, r in zip(codes, requests)]
        answers = self._generate("m2t", "m2t", values, seed, "text")
        return [a[0].text or "" for a in answers]

    def predict(self, requests: Sequence[PredictRequest], seed: int) -> list[np.ndarray]:
        prefixes = self._encode([r.prefix for r in requests])
        limits = [(1, max(1, min(r.frames, MAX_FRAMES) - codes_to_frames(len(c)))) for r, c in zip(requests, prefixes)]
        answers = self._generate("predict", "predict", [TaskValues(motion=c) for c in prefixes], seed, "motion", 1, limits)
        return self._motions([a[0] for a in answers], [r.frames for r in requests], [r.prefix for r in requests], prefixes)

    def inbetween(self, requests: Sequence[InbetweenRequest], seed: int) -> list[np.ndarray]:
        starts = self._encode([r.start for r in requests])
        ends = self._encode([r.end for r in requests])
        values = [TaskValues(motion=s, motion_b=e) for s, e in zip(starts, ends)]
        answers = self._generate("inbetween", "inbetween", values, seed, "motion", 1, [(r.frames, r.frames) for r in requests])
        return self._motions([a[0] for a in answers], [r.frames for r in requests], [r.start for r in requests])

    def edit(self, requests: Sequence[EditRequest], seed: int) -> list[np.ndarray]:
        sources = self._encode([r.source for r in requests])
        values = [TaskValues(motion=c, edit=r.instruction) for c, r in zip(sources, requests)]
        answers = self._generate("edit", "edit", values, seed, "motion")
        frames = [codes_to_frames(len(a[0].codes)) if a[0].ok else len(r.source) for a, r in zip(answers, requests)]
        return self._motions([a[0] for a in answers], frames, [r.source for r in requests])

    def difference(self, requests: Sequence[DiffRequest], seed: int) -> list[str]:
        firsts = self._encode([r.first for r in requests])
        seconds = self._encode([r.second for r in requests])
        values = [TaskValues(motion=a, motion_b=b) for a, b in zip(firsts, seconds)]
        answers = self._generate("diff", "diff", values, seed, "text")
        return [self._difference_sentence(a[0].text or "") for a in answers]

    def _difference_sentence(self, answer: str) -> str:
        """The sentence a diff answer wraps: "The difference: X." -> "X." (the answer templates the
        model was trained with, longest first, so that the bare "{diff}" comes last)."""
        for template in sorted(self.bundle.families["diff"].answers, key=lambda t: -len(t.text)):
            head, _, tail = template.text.partition("{diff}")
            if len(answer) >= len(head) + len(tail) and answer.lower().startswith(head.lower()) and answer.lower().endswith(tail.lower()):
                return answer[len(head) : len(answer) - len(tail)]
        return answer
