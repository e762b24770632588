"""The evaluation `Generator` over a trained model bundle.

Requests go through `motionchat.tasks.answering`, the path chat and stage 3 take too, and all
prompts of a call are generated in one batch. Input motions are encoded once: the protocols ask
about the same test clips in every repeat.

A malformed answer (`generate` reports it, never patches it) still needs something to be scored:
a motion answer is replaced by the request's last known frame repeated (a text-to-motion answer,
which has none, by an all-zero motion), a text answer is scored as far as it got; a duration
answer that states no length counts as wrong. Every
answer is counted in `tally`, and the report shows the share that was malformed per task.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eval.cache import memoised, motion_key
from eval.generators import (
    AnswerTally,
    CaptionRequest,
    DiffRequest,
    DurationRequest,
    EditRequest,
    InbetweenRequest,
    MotionPrompt,
    PredictRequest,
)
from motionchat.bundle import load_bundle
from motionchat.tasks.answering import Question, TaskRequest, answer_questions, decode_answers, prepare
from motionchat.tasks.templates import read_answer

STAND_INS = {
    "t2m": "each is scored as an all-zero motion",
    "m2t": "an unfinished caption is scored as far as it got, an unusable one as empty",
    "predict": "each is scored as the last given frame repeated",
    "inbetween": "each is scored as the last given frame of the start repeated",
    "edit": "each is scored as the source's last frame repeated",
    "diff": "an unfinished sentence is scored as far as it got, an unusable one as empty",
    "duration": "an answer that states no length (it reads as none of the family's answers) counts as wrong",
}


class BundleGenerator:
    name = "model"
    tasks = ("t2m", "m2t", "predict", "inbetween", "edit", "diff", "duration")
    samples_differ = True

    def __init__(self, bundle: str | Path, device: str = "cpu", guidance: float | None = None, temperature: float | None = None,
                 best_of: int | None = None):  # fmt: skip
        """`guidance`, `temperature`: the classifier-free guidance scale and the sampling
        temperature of every answer (None: the bundle's own, which may differ for text answers);
        `best_of`: motions drawn per text-to-motion answer (None: the bundle's own)."""
        self.bundle = load_bundle(bundle, device)
        self._guidance, self._temperature, self._best_of = guidance, temperature, best_of
        self.codec = self.bundle.codec
        self.tally = AnswerTally(STAND_INS)
        self._codes: dict = {}  # motion key -> codes

    def settings(self) -> dict[str, float]:
        """The guidance and temperature of motion and of text answers, and best-of, as used."""
        motion, text = (self._config(1, 0, kind) for kind in ("motion", "text"))
        return {"guidance": motion.guidance, "temperature": motion.temperature,
                "text_guidance": text.guidance, "text_temperature": text.temperature, "best_of": motion.best_of}  # fmt: skip

    def _config(self, n_samples: int, seed: int, output: str):
        return self.bundle.sampling(n_samples, seed, self._guidance, self._temperature, output, self._best_of)

    def _encode(self, motions: Sequence[np.ndarray]) -> list[list[int]]:
        return memoised(motions, [motion_key(m) for m in motions], self._codes, self.codec.encode_many)

    def _answers(self, task: str, requests: Sequence[TaskRequest], seed: int, n_samples: int = 1, usable=lambda answer: answer.ok):
        """(questions, answers[request][sample]) of one batch; prompts drawn in order from one seeded
        rng. An answer counts as malformed in `tally` unless `usable`."""
        rng, codec = random.Random(seed), self.codec
        questions = [
            prepare(
                r,
                self.bundle.families,
                rng,
                codebook_size=codec.codebook_size,
                frames_per_code=codec.frames_per_code,
                fps=self.bundle.fps,
            )
            for r in requests
        ]
        output = questions[0].family.output if questions else "motion"
        config = self._config(n_samples, seed, output)
        answers = answer_questions(self.bundle.lm, questions, config)
        self.tally.count(task, [usable(a) for per_prompt in answers for a in per_prompt])
        return questions, answers

    def _motions(
        self, questions: Sequence[Question], answers, fallbacks: Sequence[np.ndarray], fallback_frames: Sequence[int]
    ) -> list[np.ndarray]:
        """Each answer's motion; a malformed answer gives its fallback's last frame repeated."""
        good = [i for i, a in enumerate(answers) if a.ok]
        decoded = decode_answers(self.codec, [questions[i] for i in good], [answers[i].codes for i in good])
        motions = [np.repeat(fallback[-1:], n, axis=0) for fallback, n in zip(fallbacks, fallback_frames)]
        for i, motion in zip(good, decoded):
            motions[i] = motion.features
        return motions

    def text_to_motion(self, prompts: Sequence[MotionPrompt], n_samples: int, seed: int) -> list[list[np.ndarray]]:
        requests = [TaskRequest("t2m_length", caption=p.caption, frames=p.frames) for p in prompts]
        questions, answers = self._answers("t2m", requests, seed, n_samples)
        zero = np.zeros((1, self.bundle.skeleton.feature_dim), dtype=np.float32)
        flat = self._motions(
            [q for q in questions for _ in range(n_samples)],
            [a for per in answers for a in per],
            [zero] * (len(prompts) * n_samples),
            [p.frames for p in prompts for _ in range(n_samples)],
        )
        return [flat[i * n_samples : (i + 1) * n_samples] for i in range(len(prompts))]

    def motion_to_text(self, requests: Sequence[CaptionRequest], seed: int) -> list[str]:
        codes = self._encode([r.motion for r in requests])
        tasks = [TaskRequest("m2t", motions=[c], motion_frames=[len(r.motion)]) for c, r in zip(codes, requests)]
        _, answers = self._answers("m2t", tasks, seed)
        return [a[0].text or "" for a in answers]

    def predict(self, requests: Sequence[PredictRequest], seed: int) -> list[np.ndarray]:
        prefixes = self._encode([r.prefix for r in requests])
        tasks = [
            TaskRequest("predict", motions=[c], motion_frames=[len(r.prefix)], frames=r.frames)
            for c, r in zip(prefixes, requests)
        ]
        questions, answers = self._answers("predict", tasks, seed)
        return self._motions(
            questions, [a[0] for a in answers], [r.prefix for r in requests], [r.frames for r in requests]
        )

    def inbetween(self, requests: Sequence[InbetweenRequest], seed: int) -> list[np.ndarray]:
        starts = self._encode([r.start for r in requests])
        ends = self._encode([r.end for r in requests])
        tasks = [
            TaskRequest("inbetween", motions=[s, e], motion_frames=[len(r.start), len(r.end)], frames=r.frames)
            for s, e, r in zip(starts, ends, requests)
        ]
        questions, answers = self._answers("inbetween", tasks, seed)
        return self._motions(
            questions, [a[0] for a in answers], [r.start for r in requests], [r.frames for r in requests]
        )

    def edit(self, requests: Sequence[EditRequest], seed: int) -> list[np.ndarray]:
        sources = self._encode([r.source for r in requests])
        tasks = [
            TaskRequest("edit", motions=[c], motion_frames=[len(r.source)], edit=r.instruction)
            for c, r in zip(sources, requests)
        ]
        questions, answers = self._answers("edit", tasks, seed)
        return self._motions(
            questions, [a[0] for a in answers], [r.source for r in requests], [len(r.source) for r in requests]
        )

    def difference(self, requests: Sequence[DiffRequest], seed: int) -> list[str]:
        firsts = self._encode([r.first for r in requests])
        seconds = self._encode([r.second for r in requests])
        tasks = [
            TaskRequest("diff", motions=[a, b], motion_frames=[len(r.first), len(r.second)])
            for a, b, r in zip(firsts, seconds, requests)
        ]
        _, answers = self._answers("diff", tasks, seed)
        return [self._difference_sentence(a[0].text or "") for a in answers]

    def duration(self, requests: Sequence[DurationRequest], seed: int) -> list[float | None]:
        codes = self._encode([r.motion for r in requests])
        tasks = [TaskRequest("m2length", motions=[c], motion_frames=[len(r.motion)]) for c, r in zip(codes, requests)]
        _, answers = self._answers("duration", tasks, seed, usable=lambda a: a.ok and self._stated_frames(a.text or "") is not None)
        return [self._stated_frames(a[0].text or "") for a in answers]

    def _stated_frames(self, answer: str) -> float | None:
        """The length in frames an m2length answer states, or None when it reads as no answer template."""
        fps = self.bundle.fps
        for values in read_answer(self.bundle.families["m2length"].answers, answer, fps):
            return float(values["frames"]) if "frames" in values else float(values["seconds"]) * fps
        return None

    def _difference_sentence(self, answer: str) -> str:
        """The sentence a diff answer wraps: "The difference: X." -> "X." (the answer templates the
        model was trained with, longest first, so that the bare "{diff}" comes last)."""
        for template in sorted(self.bundle.families["diff"].answers, key=lambda t: -len(t.text)):
            head, _, tail = template.text.partition("{diff}")
            if (
                len(answer) >= len(head) + len(tail)
                and answer.lower().startswith(head.lower())
                and answer.lower().endswith(tail.lower())
            ):
                return answer[len(head) : len(answer) - len(tail)]
        return answer
