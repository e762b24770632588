"""From a free-form request to files on disk: route, fill the model input, generate, decode, save.

The bundle loads in a background thread, started by `start_loading` or else by the first request,
which waits for it. The REPL starts it once its prompt is on screen, not before: importing torch
holds the GIL, so a prompt drawn alongside came about 0.4 s later on a busy 2-core machine.
A request waits for the load before it imports anything of its own, so the two threads never
import the same modules at once (a half-imported module fails the other thread's import); a load
that failed is reported to the request that waited for it and tried again by the next one.
Several independent requests (`ask_many`) share one batched generation.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from motionchat.chat.facts import answer_facts, request_notes
from motionchat.chat.replies import MotionResult, Reply
from motionchat.chat.session import Session, SessionMotion
from motionchat.errors import MotionchatError
from motionchat.filenames import CONFIG_FILE
from motionchat.tasks.answering import Question, TaskRequest, answer_questions, decode_answer, prepare, trained_family
from motionchat.tasks.routing import LAST, PREVIOUS, RoutedRequest, clean_request, route

PREVIEW_FORMATS = ("gif", "mp4", "none")
DEFAULT_BUNDLE_ENV = "MOTIONCHAT_BUNDLE"


def default_bundle_path() -> Path:
    """The bundle shipped inside the package (or named by $MOTIONCHAT_BUNDLE)."""
    import os

    if os.environ.get(DEFAULT_BUNDLE_ENV):
        return Path(os.environ[DEFAULT_BUNDLE_ENV])
    return Path(str(resources.files("motionchat") / "assets" / "default_bundle"))


def _check_bundle_dir(path: Path) -> Path:
    if not (path / CONFIG_FILE).is_file():
        raise MotionchatError(
            f"no model bundle at {path}; train one with `trainer all --data DIR --preset tiny --out BUNDLE` "
            "and pass --bundle BUNDLE (or set MOTIONCHAT_BUNDLE)"
        )
    return path


@dataclass
class _Prepared:
    """A routed request with its model input, before generation."""

    request: RoutedRequest
    question: Question
    motions: list[SessionMotion]  # the request's input motions, for the facts beside the answer


class Engine:
    def __init__(self, session: Session, bundle_path: Path | None = None, output_format: str = "gif", raw: bool = False):
        """`raw` keeps generated motions as decoded, without the skeleton clean-up (`motion.cleanup`)."""
        if output_format not in PREVIEW_FORMATS:
            raise MotionchatError(f"--format {output_format}: use one of {', '.join(PREVIEW_FORMATS)}")
        self.session = session
        self.output_format = output_format
        self.raw = raw
        self._start_lock = threading.Lock()
        self.use_bundle(bundle_path or default_bundle_path())

    # --- the model ------------------------------------------------------------------------------

    def use_bundle(self, path: Path) -> None:
        """Switch to a bundle, loaded by `start_loading` or the next request; errors surface on
        the next request."""
        self.bundle_path = _check_bundle_dir(Path(path))
        self._new_loader()

    def _new_loader(self) -> None:
        path, outcome = self.bundle_path, []  # outcome: (bundle, error) once the load has ended
        self._loader = threading.Thread(target=lambda: outcome.append(self._load(path)), daemon=True)
        self._outcome = outcome

    def start_loading(self) -> tuple[threading.Thread, list]:
        """Load the bundle in the background from now on (once); returns the load and where its
        outcome will be."""
        with self._start_lock:
            if self._loader.ident is None:
                self._loader.start()
            return self._loader, self._outcome

    @staticmethod
    def _load(path: Path) -> tuple:
        bundle, error = None, None
        try:
            import torch

            torch.set_num_threads(1)  # one decoding stream is fastest single-threaded on small CPUs
            from motionchat.bundle import load_bundle

            bundle = load_bundle(path)
        except BaseException as err:  # surfaced to the user on the next request
            error = err
        return bundle, error

    @property
    def bundle(self):
        loader, outcome = self.start_loading()
        loader.join()
        bundle, error = outcome[0]
        if error is not None:
            with self._start_lock:
                if self._loader is loader:  # the next request loads it again
                    self._new_loader()
            if isinstance(error, MotionchatError):
                raise error
            raise MotionchatError(f"cannot load the bundle at {self.bundle_path}: {error}")
        return bundle

    @property
    def loaded(self) -> bool:
        """Whether the bundle is in memory (a request now does not wait for it)."""
        return bool(self._outcome) and self._outcome[0][0] is not None

    def describe(self) -> str:
        return f"the model at {self.bundle_path}"

    # --- requests -------------------------------------------------------------------------------

    def ask(self, text: str, stem: str | None = None) -> Reply:
        return self.ask_many([text], [stem])[0]

    def ask_many(self, texts: list[str], stems: list[str | None] | None = None) -> list[Reply]:
        """Answer several requests with one batched generation; each reply says its own problems.

        References resolve against the session as it is before the batch, so only requests that
        do not need each other's results belong in one call.
        """
        texts = [clean_request(text) for text in texts]  # undecodable bytes from a shell or a file
        stems = stems or [None] * len(texts)
        replies = [Reply(text) for text in texts]
        prepared: dict[int, _Prepared] = {}
        for i, text in enumerate(texts):
            try:
                prepared[i] = self._prepare(text)
                request = prepared[i].request
                replies[i].family, replies[i].caption = request.family, request.model_text
                replies[i].notes = request_notes(request, prepared[i].motions, self.bundle_path)
            except MotionchatError as err:
                replies[i].error = str(err)
        try:
            if prepared:
                self._generate(prepared, replies, stems)
        except MotionchatError as err:
            if len(prepared) == 1:
                replies[next(iter(prepared))].error = str(err)
            else:  # find the request at fault: the others still get answers
                for i, item in prepared.items():
                    try:
                        self._generate({i: item}, replies, stems)
                    except MotionchatError as single:
                        replies[i].error = str(single)
        for i, item in prepared.items():
            made = [self.session.get(m.name) for m in replies[i].motions]
            replies[i].facts = answer_facts(replies[i], item.request, item.motions, made)
        return replies

    def _prepare(self, text: str) -> _Prepared:
        bundle = self.bundle  # first: no import of ours may overlap the loader's
        request = route(text, fps=self.session_fps)
        trained_family(bundle.families, request.family)  # before loading any file the request names
        motions = [self.session.resolve(ref) for ref in request.motions]
        codec = bundle.codec
        task = TaskRequest(
            request.family,
            caption=request.caption,
            captions=request.captions,
            motions=[codec.encode(self._features(m)) for m in motions],
            motion_frames=[m.frames for m in motions],
            frames=request.frames,
            edit=request.edit,
        )
        seed = self.session.seed if self.session.seed is not None else 0
        question = prepare(task, bundle.families, random.Random(f"{seed}:{text}"), codebook_size=codec.codebook_size,
                           frames_per_code=codec.frames_per_code, fps=bundle.fps)
        return _Prepared(request, question, motions)

    @property
    def session_fps(self) -> float:
        return self.bundle.fps

    def _features(self, motion: SessionMotion) -> np.ndarray:
        """The motion's raw features: as the user's file or the model gave them, else from its joints."""
        if motion.frames < 2:
            raise MotionchatError(f"{motion.name} has {motion.frames} frame; a motion needs at least 2")
        if motion.features is not None and motion.features.shape[1] == self.bundle.skeleton.feature_dim:
            return motion.features
        from motionchat.motion.features import joints_to_features

        return joints_to_features(motion.joints, motion.skeleton)

    def _generate(self, prepared: dict[int, _Prepared], replies: list[Reply], stems: list[str | None]) -> None:
        from motionchat.threads import compute_threads, threads_for

        bundle, session = self.bundle, self.session
        samples = session.samples
        answers: dict[int, list] = {}
        for output in ("motion", "text"):  # each kind at its own temperature and guidance
            order = [i for i, item in prepared.items() if item.question.family.output == output]
            if not order:
                continue
            config = bundle.sampling(samples, session.seed or 0, session.guidance, session.temperature, output, session.best_of)
            with compute_threads(threads_for(len(order) * samples)):  # one for a chat request
                answers |= zip(order, answer_questions(bundle.lm, [prepared[i].question for i in order], config))
        if hasattr(bundle.lm.model, "release_fused"):  # not held while previews are drawn, nor between requests
            bundle.lm.model.release_fused()
        for i in prepared:
            per_sample = answers[i]
            item, reply = prepared[i], replies[i]
            for k, answer in enumerate(per_sample):
                label = f"sample {k + 1}: " if samples > 1 else ""
                if not answer.ok:
                    reply.problems.append(f"{label}{answer.problem}")
                elif item.question.family.output == "text":
                    reply.texts.append(answer.text)
                else:
                    reply.motions.append(self._keep_motion(item, answer.codes, reply.request, stems[i]))
            if not reply.ok and reply.error is None:
                reply.error = "; ".join(reply.problems) or "the model gave no usable answer"

    def _keep_motion(self, item: _Prepared, codes: list[int], request_text: str, stem: str | None) -> MotionResult:
        from motionchat.motion.cleanup import clean_generated

        decoded = decode_answer(self.bundle.codec, item.question, codes)
        joints = decoded.joints if self.raw else clean_generated(decoded.features, decoded.joints, self.bundle.skeleton)
        sources = " and ".join(dict.fromkeys(m.name for m in item.motions))
        origin = f"{item.request.family} of {sources}" if sources else item.request.family
        motion = self.session.add(joints, f"{origin}: {request_text}", self.bundle.skeleton, decoded.features)
        words = (item.request.model_text or item.request.family).split()[:6]
        base = "-".join([stem, motion.name] if stem else [motion.name, *words])
        motion.files = self._write_files(motion, decoded.features, base, request_text)
        return MotionResult(motion.name, motion.frames, motion.skeleton.fps, motion.files)

    def _write_files(self, motion: SessionMotion, features: np.ndarray, base: str, caption: str) -> list[Path]:
        from motionchat.motion.arrays import write_npy
        from motionchat.motion.io import save_motion

        preview = [f".{self.output_format}"] if self.output_format != "none" else []
        bvh = [".bvh"] if motion.skeleton.n_joints == 22 else []
        stem = self.session.out_dir / self.session.free_stem(base, [".npy", "-features.npy", *bvh, *preview])
        files = [save_motion(motion.joints, Path(f"{stem}.npy"), skeleton=motion.skeleton)]
        motion.files = files  # kept up to date, so a cancelled request can delete what it wrote
        write_npy(Path(f"{stem}-features.npy"), features.astype(np.float32))
        files.append(Path(f"{stem}-features.npy"))
        for ending in bvh + preview:
            files.append(save_motion(motion.joints, Path(f"{stem}{ending}"), skeleton=motion.skeleton, caption=caption))
        return files

    def save(self, motion: SessionMotion, path: Path) -> Path:
        from motionchat.motion.io import save_motion

        saved = save_motion(motion.joints, path, skeleton=motion.skeleton, caption=motion.origin)
        motion.files.append(saved)
        return saved


def references_session(text: str) -> bool:
    """Whether a request needs motions made earlier in the session (so it cannot be batched)."""
    try:
        request = route(text)
    except MotionchatError:
        return False
    return any(ref in (LAST, PREVIOUS) or ref.lower().startswith("m") and ref[1:].isdigit() for ref in request.motions)
