"""The evaluation protocol of each task: what is asked of every generator, and what is measured.

Each protocol repeats its measurement `repeats` times (seeded; Guo et al. use 20) and keeps every
repeat's value, so the report can give mean ± 95% interval. One repeat:

- t2m: one random caption per test clip (shuffled order); one motion per caption of the clip's
  length. FID (against the test motions), R-Precision top-1/2/3 (batches of 32), MM-Dist,
  Diversity (300 pairs); program accuracy through the recogniser (synthetic corpus).
  MultiModality: `mm_samples` motions for each of `mm_prompts` captions (10 pairs each), the
  captions spread over the repeats (100 captions, 20 repeats: 5 a repeat), so that its mean is
  over all of them while the model generates them once, not once per repeat. The compositional
  split (synthetic corpus: test clips with two consecutive actions in an order held out of
  training) is scored again on its own, from the same motions.
- m2t: one caption per test motion: BLEU@1/4, ROUGE-L, CIDEr-D against the clip's captions,
  R-Precision and MM-Dist of the caption against the motion; program accuracy of the caption
  through the corpus's caption parser.
- predict: the first 20% of each clip given, the rest generated; ADE/FDE (per-joint mean, and
  MotionGPT's flattened 66-d distance) over the generated frames, FID and Diversity.
- inbetween: the first and last 25% given; the same metrics over the frames in between.
- edit (synthetic corpus): the source clip and the instruction of each test edit pair; program
  accuracy of the result against the target program, FID against the target clips, R-Precision
  and MM-Dist against the target's captions.
- diff (synthetic corpus): both clips of each test edit pair; the share of sentences that name
  the pair's true edit (`eval.metrics.differences`), BLEU@4 against the pair's own sentence.
- duration: each test motion, "how long is it?"; the share of answers within 10% of its true
  length, and the mean relative error (an unreadable answer counts as wrong, error 1).
- tokenizer: one deterministic pass of encoding and decoding every test clip (no repeats).

A generator that stands something in for its malformed answers (the model: see its `tally`) gets
a "malformed" column, the share of its answers of the repeat that were malformed, and a note.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from eval.cache import motion_key
from eval.data import EditPair, EvalData
from eval.embedder import Embedder
from eval.generators import (
    CaptionRequest,
    ClipIndex,
    DiffRequest,
    DurationRequest,
    EditRequest,
    Generator,
    GroundTruthGenerator,
    InbetweenRequest,
    MotionPrompt,
    PredictRequest,
    fit_length,
)
from eval.metrics import (
    bleu,
    cider_d,
    DisplacementErrors,
    codebook_use,
    displacement_errors,
    diversity,
    fid,
    mm_dist,
    mpjpe_mm,
    multimodality,
    r_precision,
    rouge_l,
)
from eval.metrics.differences import difference_accuracy
from eval.metrics.programs import program_accuracy
from eval.recognizer import ProgramRecognizer
from eval.synth_data import compositional_positions, true_differences
from motionchat.data.synth.captions import parse_caption
from motionchat.errors import MotionchatError
from motionchat.motion.features import features_to_joints
from motionchat.tasks.examples import known_frames


@dataclass(frozen=True)
class ProtocolConfig:
    """Knobs of the protocols; the defaults are the standard ones.

    Args:
        repeats: independent repetitions (mean ± 95% interval over them).
        seed: seeds every random choice (captions, order, pairs, generator seeds).
        batch: R-Precision batch size.
        diversity_pairs: pairs for Diversity (fewer when there are fewer motions).
        mm_prompts / mm_samples / mm_pairs: MultiModality's captions, motions per caption, pairs.
    """

    repeats: int = 20
    seed: int = 0
    batch: int = 32
    diversity_pairs: int = 300
    mm_prompts: int = 100
    mm_samples: int = 30
    mm_pairs: int = 10

    def rng(self, task: str, repeat: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, repeat, *task.encode()]))

    def generator_seed(self, repeat: int) -> int:
        return self.seed * 1000 + repeat


@dataclass
class TaskResult:
    """Per generator (row) and metric, one value per repeat; plus averaged breakdowns and notes."""

    task: str
    rows: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    breakdowns: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, row: str, values: dict[str, float]) -> None:
        metrics = self.rows.setdefault(row, defaultdict(list))
        for name, value in values.items():
            metrics[name].append(float(value))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


class _Breakdown:
    """Running mean over repeats of accuracies broken down by group ("per_action", "per_param",
    "per_kind" of edit)."""

    def __init__(self):
        self.sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, groups: dict[str, dict[str, float]]) -> None:
        for group, values in groups.items():
            for key, value in values.items():
                self.sums[group][key] += value
                self.counts[group][key] += 1

    def means(self) -> dict[str, dict[str, float]]:
        return {group: {k: v / self.counts[group][k] for k, v in sorted(sums.items())} for group, sums in self.sums.items()}


def _check_motions(generator: Generator, motions: Sequence[np.ndarray], count: int, dim: int, min_frames: int, task: str) -> list[np.ndarray]:
    if len(motions) != count:
        raise MotionchatError(f"{generator.name}: {task} returned {len(motions)} motions for {count} requests")
    checked = []
    for motion in motions:
        motion = np.asarray(motion, dtype=np.float32)
        if motion.ndim != 2 or motion.shape[1] != dim or len(motion) < min_frames or not np.isfinite(motion).all():
            raise MotionchatError(
                f"{generator.name}: {task} returned a motion of shape {motion.shape} (or with NaN/Inf); "
                f"expected finite ({min_frames}+ frames, {dim}) raw features"
            )
        checked.append(motion)
    return checked


def _embedding_scores(
    texts: np.ndarray, motions: np.ndarray, real: np.ndarray | None, cfg: ProtocolConfig, rng, result: TaskResult
) -> dict[str, float]:
    """R-Precision and MM-Dist of paired text/motion embeddings; FID and Diversity of the motions
    when they are generated (`real`: the embeddings of the real motions to compare with)."""
    scores: dict[str, float] = {}
    if len(texts) >= cfg.batch:
        top = r_precision(texts, motions, batch=cfg.batch).top
        scores.update(r_precision_top1=top[0], r_precision_top2=top[1], r_precision_top3=top[2])
    else:
        result.note(f"R-Precision needs at least {cfg.batch} items; left out")
    scores["mm_dist"] = mm_dist(texts, motions)
    if real is not None and len(motions) < 2:
        result.note("FID and Diversity need at least 2 motions; left out")
    elif real is not None:
        scores["fid"] = fid(motions, real)
        pairs = min(cfg.diversity_pairs, len(motions))
        if pairs < cfg.diversity_pairs:
            result.note(f"Diversity over {pairs} pairs (only {len(motions)} motions)")
        scores["diversity"] = diversity(motions, pairs, rng)
    return scores


def _program_scores(predicted, requested, breakdown: _Breakdown) -> dict[str, float]:
    accuracy = program_accuracy(predicted, requested)
    breakdown.add({"per_action": accuracy.per_action, "per_param": accuracy.per_param})
    return {"program_exact": accuracy.exact, "program_actions": accuracy.actions}


def _check_texts(generator: Generator, texts: Sequence, count: int, task: str) -> list[str]:
    if len(texts) != count or not all(isinstance(t, str) for t in texts):
        raise MotionchatError(f"{generator.name}: {task} returned {len(texts)} answers for {count} requests (one text each expected)")
    return list(texts)


def _tally_mark(generator: Generator, task: str) -> tuple[int, int] | None:
    """(answers, malformed) the generator has counted for `task` so far; None if it keeps no tally."""
    tally = getattr(generator, "tally", None)
    return None if tally is None else (tally.given[task], tally.malformed[task])


def _malformed_share(generator: Generator, task: str, mark: tuple[int, int] | None) -> dict[str, float]:
    """{"malformed": share of the answers since `mark` that were malformed}, or {} without a tally."""
    if mark is None:
        return {}
    given = generator.tally.given[task] - mark[0]
    return {"malformed": (generator.tally.malformed[task] - mark[1]) / given} if given else {}


def _note_malformed(result: TaskResult, generators: Sequence[Generator], task: str) -> None:
    for g in generators:
        tally = getattr(g, "tally", None)
        if tally is not None and tally.given[task]:
            result.note(f"{g.name}: {tally.malformed[task]} of {tally.given[task]} answers malformed; {tally.stand_ins[task]}")


def _supported(generators: Sequence[Generator], task: str) -> list[Generator]:
    return [g for g in generators if task in g.tasks]


def _repeats(cfg: ProtocolConfig, task: str, n_items: int) -> Iterator[tuple[int, np.random.Generator, np.ndarray]]:
    """Every repeat of `task`: its index, its seeded random generator, and the order in which the
    `n_items` items are asked for (the generator's first draw)."""
    for repeat in range(cfg.repeats):
        rng = cfg.rng(task, repeat)
        yield repeat, rng, rng.permutation(n_items)


def _embed_test_clips(data: EvalData, embedder: Embedder) -> np.ndarray:
    """Embeddings of the evaluated test clips, in `data.test_indices` order."""
    return embedder.embed_motions([data.test.features(i) for i in data.test_indices])


def _mm_prompts(cfg: ProtocolConfig, repeat: int) -> int:
    """How many of MultiModality's `mm_prompts` captions repeat `repeat` takes (an even share)."""
    return cfg.mm_prompts // cfg.repeats + (repeat < cfg.mm_prompts % cfg.repeats)


def evaluate_t2m(
    generators: Sequence[Generator], data: EvalData, embedder: Embedder, cfg: ProtocolConfig,
    recognizer: ProgramRecognizer | None = None, advance=lambda: None,
) -> list[TaskResult]:  # fmt: skip
    """The text-to-motion result, and the compositional split's when the evaluated test clips have one."""
    result, split = TaskResult("t2m"), TaskResult("t2m_compositional")
    clips, indices = data.test, data.test_indices
    real_all = _embed_test_clips(data, embedder)
    compositional = compositional_positions(data)
    breakdowns, split_breakdowns = defaultdict(_Breakdown), defaultdict(_Breakdown)
    for repeat, rng, order in _repeats(cfg, "t2m", len(indices)):
        captions = [clips.captions[indices[k]][int(rng.integers(len(clips.captions[indices[k]])))] for k in order]
        prompts = [MotionPrompt(c.text, int(clips.lengths[indices[k]]), clips.clip_ids[indices[k]]) for c, k in zip(captions, order)]
        texts = embedder.embed_texts(captions)
        in_split = np.isin(order, compositional)
        for g in _supported(generators, "t2m"):
            mark = _tally_mark(g, "t2m")
            samples = g.text_to_motion(prompts, 1, cfg.generator_seed(repeat))
            motions = _check_motions(g, [s[0] for s in samples], len(prompts), data.skeleton.feature_dim, embedder.min_frames, "t2m")
            emb = embedder.embed_motions(motions)
            scores = _embedding_scores(texts, emb, real_all, cfg, rng, result)
            if len(texts) >= cfg.batch:  # each motion against another request's text: chance for a model that reads its prompt
                scores["r_precision_top3_shuffled"] = r_precision(np.roll(texts, 1, axis=0), emb, batch=cfg.batch).top[2]
            split_scores = {}
            if compositional:  # its own random draws, so that the main table's stay as they were
                split_rng = cfg.rng("t2m_compositional", repeat)
                split_scores = _embedding_scores(texts[in_split], emb[in_split], real_all[compositional], cfg, split_rng, split)
            mm_prompts = min(_mm_prompts(cfg, repeat), len(prompts))
            if not g.samples_differ:
                result.note(f"{g.name}: one motion per caption, so no MultiModality")
            elif mm_prompts:
                scores["multimodality"] = _multimodality(g, prompts[:mm_prompts], data, embedder, cfg, repeat, rng)
            if recognizer is not None and data.programs is not None:
                predicted = recognizer.recognise(motions)
                requested = [data.programs[p.clip_id] for p in prompts]
                scores.update(_program_scores(predicted, requested, breakdowns[g.name]))
                if compositional:
                    chosen = np.flatnonzero(in_split)
                    split_scores.update(_program_scores([predicted[j] for j in chosen], [requested[j] for j in chosen], split_breakdowns[g.name]))
            scores.update(_malformed_share(g, "t2m", mark))
            result.add(g.name, scores)
            if compositional:
                split.add(g.name, split_scores)
            advance()
    if cfg.repeats > 1 and any(g.samples_differ for g in _supported(generators, "t2m")):
        total = sum(min(_mm_prompts(cfg, r), len(indices)) for r in range(cfg.repeats))
        result.note(f"MultiModality: {cfg.mm_samples} motions for each of {total} captions in all, spread over the {cfg.repeats} repeats "
                    "(its interval is wider than if every repeat had them all)")  # fmt: skip
    result.breakdowns = {name: b.means() for name, b in breakdowns.items()}
    _note_malformed(result, generators, "t2m")
    if not compositional:
        return [result]
    split.note(f"{len(compositional)} of the {len(indices)} evaluated test clips have two consecutive actions in an order held out of "
               "training (compositional_test.txt); scored from the motions of the text-to-motion table (malformed answers: see there)")  # fmt: skip
    split.breakdowns = {name: b.means() for name, b in split_breakdowns.items()}
    return [result, split]


def _multimodality(generator, prompts, data, embedder, cfg, repeat, rng) -> float:
    samples = generator.text_to_motion(prompts, cfg.mm_samples, cfg.generator_seed(repeat) + 500)
    per_prompt = []
    for motions in samples:
        checked = _check_motions(generator, motions, cfg.mm_samples, data.skeleton.feature_dim, embedder.min_frames, "t2m")
        per_prompt.append(embedder.embed_motions(checked))
    return multimodality(np.stack(per_prompt), min(cfg.mm_pairs, cfg.mm_samples), rng)


def evaluate_m2t(
    generators: Sequence[Generator], data: EvalData, embedder: Embedder, cfg: ProtocolConfig, advance=lambda: None
) -> TaskResult:
    result = TaskResult("m2t")
    clips, indices = data.test, data.test_indices
    motions_all = _embed_test_clips(data, embedder)
    breakdowns = defaultdict(_Breakdown)
    for repeat, rng, order in _repeats(cfg, "m2t", len(indices)):
        requests = [CaptionRequest(clips.features(indices[k]), clips.clip_ids[indices[k]]) for k in order]
        for g in _supported(generators, "m2t"):
            mark = _tally_mark(g, "m2t")
            captions = _check_texts(g, g.motion_to_text(requests, cfg.generator_seed(repeat)), len(requests), "m2t")
            references = []
            for caption, k in zip(captions, order):
                refs = [c.text for c in clips.captions[indices[k]]]
                if getattr(g, "caption_from_references", False):
                    others = [r for r in refs if r != caption]
                    refs = others or refs
                references.append(refs)
            scores = {
                "bleu1": bleu(references, captions, 1), "bleu4": bleu(references, captions, 4),
                "rouge_l": rouge_l(references, captions), "cider_d": cider_d(references, captions),
            }  # fmt: skip
            scores.update(_embedding_scores(embedder.embed_texts(captions), motions_all[order], None, cfg, rng, result))
            if data.programs is not None:
                requested = [data.programs[r.clip_id] for r in requests]
                scores.update(_program_scores([parse_caption(c) for c in captions], requested, breakdowns[g.name]))
            scores.update(_malformed_share(g, "m2t", mark))
            result.add(g.name, scores)
            advance()
    if any(getattr(g, "caption_from_references", False) for g in generators):
        result.note("ground truth: one caption of each clip scored against the clip's other captions")
    result.breakdowns = {name: b.means() for name, b in breakdowns.items()}
    _note_malformed(result, generators, "m2t")
    return result


def evaluate_completion(
    task: str, generators: Sequence[Generator], data: EvalData, embedder: Embedder, cfg: ProtocolConfig, advance=lambda: None
) -> TaskResult:
    """Prediction ("predict") or in-betweening ("inbetween"); ADE/FDE over the frames generated."""
    result = TaskResult(task)
    clips, indices = data.test, data.test_indices
    lengths = [int(clips.lengths[i]) for i in indices]
    usable = [k for k, n in enumerate(lengths) if min(known_frames(task, n)[0], n - sum(known_frames(task, n))) >= 1]
    if len(usable) < len(indices):
        result.note(f"{len(indices) - len(usable)} clips too short to split; left out")
    real_all = embedder.embed_motions([clips.features(indices[k]) for k in usable])
    truth = {k: features_to_joints(clips.features(indices[k]), data.skeleton) for k in usable}
    known_errors: dict = {}  # baselines give the same motion every repeat: measure it once

    def errors_of(k: int, motion: np.ndarray) -> DisplacementErrors:
        n = lengths[k]
        fitted = fit_length(motion, n)
        key = (k, *motion_key(fitted))
        if key not in known_errors:
            head, tail = known_frames(task, n)
            joints = features_to_joints(fitted, data.skeleton)
            known_errors[key] = displacement_errors(joints[head : n - tail], truth[k][head : n - tail])
        return known_errors[key]

    for repeat, rng, shuffled in _repeats(cfg, task, len(usable)):
        order = [usable[j] for j in shuffled]
        requests = []
        for k in order:
            features, clip_id, n = clips.features(indices[k]), clips.clip_ids[indices[k]], lengths[k]
            head, tail = known_frames(task, n)
            if task == "predict":
                requests.append(PredictRequest(features[:head], n, clip_id))
            else:
                requests.append(InbetweenRequest(features[:head], features[n - tail :], n, clip_id))
        for g in _supported(generators, task):
            mark = _tally_mark(g, task)
            produced = getattr(g, task)(requests, cfg.generator_seed(repeat))
            motions = _check_motions(g, produced, len(requests), data.skeleton.feature_dim, embedder.min_frames, task)
            errors = [errors_of(k, motion) for k, motion in zip(order, motions)]
            emb = embedder.embed_motions(motions)
            scores = {
                "ade_m": np.mean([e.ade_m for e in errors]), "fde_m": np.mean([e.fde_m for e in errors]),
                "ade_flat_m": np.mean([e.ade_flat_m for e in errors]), "fde_flat_m": np.mean([e.fde_flat_m for e in errors]),
                "fid": fid(emb, real_all), "diversity": diversity(emb, min(cfg.diversity_pairs, len(emb)), rng),
                **_malformed_share(g, task, mark),
            }  # fmt: skip
            result.add(g.name, scores)
            advance()
    _note_malformed(result, generators, task)
    return result


def _test_edit_pairs(data: EvalData, task: str) -> list[EditPair]:
    if not data.test_edit_pairs:
        raise MotionchatError(f"{data.root}: no edit pairs among the evaluated test clips; {task} needs the synthetic corpus's edits.jsonl")
    return data.test_edit_pairs


def evaluate_edit(
    generators: Sequence[Generator], data: EvalData, embedder: Embedder, cfg: ProtocolConfig,
    recognizer: ProgramRecognizer | None = None, advance=lambda: None,
) -> TaskResult:  # fmt: skip
    result = TaskResult("edit")
    pairs = _test_edit_pairs(data, "edit")
    clips, test = data.test, ClipIndex(data.test)
    targets = embedder.embed_motions([test.features(p.target) for p in pairs])
    breakdowns = defaultdict(_Breakdown)
    for repeat, rng, order in _repeats(cfg, "edit", len(pairs)):
        chosen = [pairs[k] for k in order]
        requests = [EditRequest(test.features(p.source), p.instruction, p.pair_id) for p in chosen]
        target_captions = [clips.captions[test.position[p.target]] for p in chosen]
        texts = embedder.embed_texts([c[int(rng.integers(len(c)))] for c in target_captions])
        for g in _supported(generators, "edit"):
            mark = _tally_mark(g, "edit")
            motions = _check_motions(g, g.edit(requests, cfg.generator_seed(repeat)), len(requests), data.skeleton.feature_dim, embedder.min_frames, "edit")
            emb = embedder.embed_motions(motions)
            scores = _embedding_scores(texts, emb, targets, cfg, rng, result)
            if recognizer is not None and data.programs is not None:
                requested = [data.programs[p.target] for p in chosen]
                scores.update(_program_scores(recognizer.recognise(motions), requested, breakdowns[g.name]))
            scores.update(_malformed_share(g, "edit", mark))
            result.add(g.name, scores)
            advance()
    result.breakdowns = {name: b.means() for name, b in breakdowns.items()}
    _note_malformed(result, generators, "edit")
    return result


def evaluate_diff(generators: Sequence[Generator], data: EvalData, cfg: ProtocolConfig, advance=lambda: None) -> TaskResult:
    result = TaskResult("diff")
    pairs = _test_edit_pairs(data, "diff")
    truths = true_differences(pairs, data.programs)
    test = ClipIndex(data.test)
    breakdowns = defaultdict(_Breakdown)
    for repeat, _, order in _repeats(cfg, "diff", len(pairs)):
        chosen = [pairs[k] for k in order]
        requests = [DiffRequest(test.features(p.source), test.features(p.target), p.pair_id) for p in chosen]
        for g in _supported(generators, "diff"):
            mark = _tally_mark(g, "diff")
            sentences = _check_texts(g, g.difference(requests, cfg.generator_seed(repeat)), len(requests), "diff")
            accuracy = difference_accuracy(sentences, [truths[k] for k in order])
            breakdowns[g.name].add({"per_kind": accuracy.per_kind})
            scores = {"diff_correct": accuracy.correct, "bleu4": bleu([[p.difference] for p in chosen], sentences, 4)}
            scores.update(_malformed_share(g, "diff", mark))
            result.add(g.name, scores)
            advance()
    if any(isinstance(g, GroundTruthGenerator) for g in generators):
        result.note("ground truth: each pair's own sentence of the corpus (BLEU@4 1 by construction; its accuracy checks the sentence parser)")
    result.breakdowns = {name: b.means() for name, b in breakdowns.items()}
    _note_malformed(result, generators, "diff")
    return result


def evaluate_duration(generators: Sequence[Generator], data: EvalData, cfg: ProtocolConfig, advance=lambda: None) -> TaskResult:
    result = TaskResult("duration")
    clips, indices = data.test, data.test_indices
    for repeat, _, order in _repeats(cfg, "duration", len(indices)):
        requests = [DurationRequest(clips.features(indices[k]), clips.clip_ids[indices[k]]) for k in order]
        truths = np.array([len(r.motion) for r in requests], dtype=np.float64)
        for g in _supported(generators, "duration"):
            mark = _tally_mark(g, "duration")
            stated = g.duration(requests, cfg.generator_seed(repeat))
            if len(stated) != len(requests):
                raise MotionchatError(f"{g.name}: duration returned {len(stated)} answers for {len(requests)} requests")
            errors = np.array([1.0 if s is None else min(1.0, abs(s - t) / t) for s, t in zip(stated, truths)])
            scores = {"duration_within_10": float(np.mean(errors <= 0.1)), "duration_error": float(errors.mean())}
            scores.update(_malformed_share(g, "duration", mark))
            result.add(g.name, scores)
            advance()
    result.note("an unreadable answer counts as wrong (relative error 1); errors are capped at 1")
    _note_malformed(result, generators, "duration")
    return result


def evaluate_tokenizer(vq, normalizer, data: EvalData, embedder: Embedder, advance=lambda: None) -> TaskResult:
    """Encode and decode every evaluated test clip with the tokenizer `vq` (a `MotionVQVAE` fed with
    features normalised by `normalizer`, the statistics it was trained with). One deterministic
    pass: MPJPE (root-aligned, and global), reconstruction FID, codebook usage and perplexity."""
    import torch

    result = TaskResult("tokenizer")
    if normalizer.dim != data.skeleton.feature_dim:
        raise MotionchatError(
            f"{normalizer.source}: the tokenizer's statistics have {normalizer.dim} values, the dataset's features {data.skeleton.feature_dim}"
        )
    device = next(vq.parameters()).device
    clips, codes, reconstructions = data.test, [], []
    aligned_mm, global_mm, weights = [], [], []
    for i in data.test_indices:
        raw = clips.features(i)
        normalised = torch.from_numpy(normalizer.normalize(raw)).float()[None].to(device)
        with torch.no_grad():
            clip_codes = vq.encode(normalised)
            decoded = vq.decode(clip_codes, len(raw))[0].float().cpu().numpy()
        codes.append(clip_codes.view(-1).cpu().numpy())
        recon = normalizer.denormalize(decoded)
        reconstructions.append(recon)
        truth, joints = features_to_joints(raw, data.skeleton), features_to_joints(recon, data.skeleton)
        aligned_mm.append(mpjpe_mm(joints, truth))
        global_mm.append(mpjpe_mm(joints, truth, root_aligned=False))
        weights.append(len(raw))
        advance()
    use = codebook_use(np.concatenate(codes), vq.cfg.codebook_size)
    originals = _embed_test_clips(data, embedder)
    result.add("tokenizer", {
        "mpjpe_mm": np.average(aligned_mm, weights=weights), "global_mpjpe_mm": np.average(global_mm, weights=weights),
        "fid": fid(embedder.embed_motions(reconstructions), originals), "codebook_usage": use.usage, "perplexity": use.perplexity,
    })  # fmt: skip
    result.note("one deterministic pass (no repeats); MPJPE is root-aligned (MotionGPT's convention), global MPJPE also counts root drift")
    return result
