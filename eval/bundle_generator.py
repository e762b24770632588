"""The evaluation `Generator` over a trained model bundle.

Prompts are built with `motionchat.tasks.examples.build_prompt`, the same code stage 3 trained
on, and all prompts of a call are generated in one batch. A motion answer the model failed to
finish is reported by `generate` as malformed; here it is replaced by the request's last known
pose (held), counted in `malformed`, so a report shows how often that happened instead of hiding it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eval.generators import CaptionRequest, EditRequest, InbetweenRequest, MotionPrompt, PredictRequest
from motionchat.bundle import load_bundle
from motionchat.lm.generation import DecodingConfig, generate
from motionchat.motion.timing import MAX_FRAMES, codes_to_frames
from motionchat.tasks.examples import TaskValues, build_prompt


class BundleGenerator:
    name = "model"
    tasks = ("t2m", "m2t", "predict", "inbetween", "edit")
    samples_differ = True

    def __init__(self, bundle: str | Path, device: str = "cpu"):
        self.bundle = load_bundle(bundle, device)
        self.codec = self.bundle.codec
        self.malformed = 0  # motion answers that were unusable (see the module docstring)

    def _prompts(self, family: str, values: Sequence[TaskValues], seed: int) -> list[str]:
        rng = random.Random(seed)
        family_spec = self.bundle.families[family]
        return [build_prompt(family_spec, v, rng, codebook_size=self.codec.codebook_size, fps=self.bundle.fps) for v in values]

    def _generate(self, family, values, seed, output, n_samples=1, frame_limits=None):
        config = DecodingConfig(do_sample=True, top_k=50, num_samples=n_samples, seed=seed)
        lm = self.bundle.lm
        return generate(lm.model, lm.tokenizer, lm.vocab, self._prompts(family, values, seed), output, config,
                        frame_limits=frame_limits)  # fmt: skip

    def _motion(self, answer, frames: int, fallback: np.ndarray, prefix_codes: Sequence[int] = ()) -> np.ndarray:
        if not answer.ok:
            self.malformed += 1
            return np.repeat(fallback[-1:], frames, axis=0)
        return self.codec.decode(list(prefix_codes) + answer.codes, frames).features

    def text_to_motion(self, prompts: Sequence[MotionPrompt], n_samples: int, seed: int) -> list[list[np.ndarray]]:
        values = [TaskValues(caption=p.caption, frames=p.frames) for p in prompts]
        answers = self._generate("t2m_length", values, seed, "motion", n_samples, [(p.frames, p.frames) for p in prompts])
        rest = np.zeros((1, self.bundle.skeleton.feature_dim), dtype=np.float32)
        return [[self._motion(a, p.frames, rest) for a in per] for p, per in zip(prompts, answers)]

    def motion_to_text(self, requests: Sequence[CaptionRequest], seed: int) -> list[str]:
        codes = self.codec.encode_many([r.motion for r in requests])
        values = [TaskValues(motion=c, frames=len(r.motion)) for c, r in zip(codes, requests)]
        answers = self._generate("m2t", values, seed, "text")
        return [a[0].text or "" for a in answers]

    def predict(self, requests: Sequence[PredictRequest], seed: int) -> list[np.ndarray]:
        prefixes = self.codec.encode_many([r.prefix for r in requests])
        limits = [(1, max(1, min(r.frames, MAX_FRAMES) - codes_to_frames(len(c)))) for r, c in zip(requests, prefixes)]
        answers = self._generate("predict", [TaskValues(motion=c) for c in prefixes], seed, "motion", 1, limits)
        return [self._motion(a[0], r.frames, r.prefix, c) for a, r, c in zip(answers, requests, prefixes)]

    def inbetween(self, requests: Sequence[InbetweenRequest], seed: int) -> list[np.ndarray]:
        starts = self.codec.encode_many([r.start for r in requests])
        ends = self.codec.encode_many([r.end for r in requests])
        values = [TaskValues(motion=s, motion_b=e) for s, e in zip(starts, ends)]
        answers = self._generate("inbetween", values, seed, "motion", 1, [(r.frames, r.frames) for r in requests])
        return [self._motion(a[0], r.frames, r.start) for a, r in zip(answers, requests)]

    def edit(self, requests: Sequence[EditRequest], seed: int) -> list[np.ndarray]:
        sources = self.codec.encode_many([r.source for r in requests])
        values = [TaskValues(motion=c, edit=r.instruction) for c, r in zip(sources, requests)]
        answers = self._generate("edit", values, seed, "motion")
        return [
            self._motion(a[0], codes_to_frames(len(a[0].codes)) if a[0].ok else len(r.source), r.source)
            for a, r in zip(answers, requests)
        ]
