"""Metrics on known values: closed forms, hand-computed sentences, perfect and degenerate inputs."""

import math

import numpy as np
import pytest

from eval.metrics import (
    GaussianStats,
    bleu,
    cider_d,
    codebook_use,
    displacement_errors,
    diversity,
    fid,
    frechet_distance,
    mean_ci95,
    mm_dist,
    mpjpe_mm,
    multimodality,
    r_precision,
    rouge_l,
    tokenize,
)
from eval.metrics.programs import program_accuracy
from motionchat.data.synth.vocabulary import Action


# --- embeddings -------------------------------------------------------------------------------


def test_fid_of_a_set_against_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(200, 16))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-6)


def _rotation(angle):
    return np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def test_frechet_distance_matches_the_closed_form_for_two_gaussians():
    # Commuting covariances (same eigenvectors): Tr(sqrt(S1 S2)) = sum sqrt(l1 * l2).
    r = _rotation(0.7)
    s1, s2 = r @ np.diag([1.0, 4.0]) @ r.T, r @ np.diag([4.0, 9.0]) @ r.T
    mu1, mu2 = np.array([0.0, 0.0]), np.array([1.0, 2.0])
    expected = 5.0 + (1 + 4 + 4 + 9) - 2 * (math.sqrt(4) + math.sqrt(36))  # = 7
    assert frechet_distance(GaussianStats(mu1, s1), GaussianStats(mu2, s2)) == pytest.approx(expected, abs=1e-9)


def test_fid_of_samples_approaches_the_closed_form():
    rng = np.random.default_rng(1)
    r = _rotation(0.3)
    a = rng.normal(size=(100_000, 2)) * [1.0, 2.0] @ r.T
    b = rng.normal(size=(100_000, 2)) * [2.0, 3.0] @ r.T + [1.0, 2.0]
    assert fid(a, b) == pytest.approx(7.0, abs=0.1)


def test_r_precision_of_perfect_embeddings_is_one():
    emb = np.random.default_rng(2).normal(size=(96, 8))
    result = r_precision(emb, emb, batch=32, top_k=3)
    assert result.top == (1.0, 1.0, 1.0) and result.n_pairs == 96


def test_r_precision_counts_ranks_and_drops_the_partial_batch():
    motion = np.array([[0.0], [10.0], [20.0]])
    # Distances from each text to motions 0, 1, 2: (6, 4, 14), (16, 6, 4), (4, 14, 24):
    # the own motion ranks 2nd, 2nd and 3rd.
    text = np.array([[6.0], [16.0], [-4.0]])
    result = r_precision(np.vstack([text, [[0.0]]]), np.vstack([motion, [[0.0]]]), batch=3, top_k=3)
    assert result.n_pairs == 3  # the fourth pair does not fill a batch
    assert result.top == pytest.approx((0.0, 2 / 3, 1.0))


def test_r_precision_of_identical_embeddings_is_zero_not_one():
    emb = np.ones((32, 4))
    assert r_precision(emb, emb).top == (0.0, 0.0, 0.0)


def test_mm_dist_diversity_and_multimodality_on_known_points():
    text = np.array([[0.0, 0.0], [1.0, 1.0]])
    motion = np.array([[3.0, 4.0], [1.0, 2.0]])
    assert mm_dist(text, motion) == pytest.approx((5.0 + 1.0) / 2)
    # All points at distance 2 from each other except themselves: x = 0 or 2 on a line, two each.
    points = np.array([[0.0], [2.0]])
    values = [diversity(points, 2, np.random.default_rng(s)) for s in range(20)]
    assert set(np.round(values, 6)) <= {0.0, 1.0, 2.0}
    # Multimodality: every prompt's samples lie at distance 3 from each other.
    per_prompt = np.stack([np.array([[0.0], [3.0]])] * 4)  # (4 prompts, 2 samples, 1)
    mm = multimodality(per_prompt, pairs=2, rng=np.random.default_rng(0))
    assert mm in (pytest.approx(0.0), pytest.approx(1.5), pytest.approx(3.0))
    with pytest.raises(ValueError):
        diversity(points, 3, np.random.default_rng(0))


def test_mean_ci95():
    interval = mean_ci95([1.0, 2.0, 3.0, 4.0])
    assert interval.mean == 2.5
    assert interval.ci95 == pytest.approx(1.96 * np.std([1, 2, 3, 4]) / 2)
    assert interval.format(2) == f"2.50 ± {interval.ci95:.2f}"


# --- captions ---------------------------------------------------------------------------------

HYP = "The cat sat on the mat."
REF = "the cat is on the mat"


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("A man walks, then TURNS left!") == ["a", "man", "walks", "then", "turns", "left"]


def test_bleu_matches_hand_computed_values():
    # Unigrams 5/6, bigrams 3/5, trigrams 1/4, 4-grams 0/3; equal lengths, so no brevity penalty.
    assert bleu([[REF]], [HYP], max_n=1) == pytest.approx(5 / 6)
    assert bleu([[REF]], [HYP], max_n=2) == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    assert bleu([[REF]], [HYP], max_n=3) == pytest.approx(0.5)
    assert bleu([[REF]], [HYP], max_n=4) == 0.0
    # Brevity penalty: 3 words against 5.
    assert bleu([["a person walks forward slowly"]], ["a person walks"], max_n=1) == pytest.approx(math.exp(1 - 5 / 3))
    # The closest reference length counts, and a perfect match scores 1.
    assert bleu([["a person walks", "a person walks forward slowly"]], ["a person walks"], max_n=3) == pytest.approx(1.0)


def test_bleu_is_a_corpus_score_not_a_mean_of_sentences():
    refs = [["a man walks"], ["a woman jumps high"]]
    hyps = ["a man walks", "a dog sits down"]
    # Unigrams: 3/3 + 1/4 = 4/7 overall; lengths 7 vs 7.
    assert bleu(refs, hyps, max_n=1) == pytest.approx(4 / 7)


def test_rouge_l_matches_hand_computed_values():
    # LCS "the cat on the mat" = 5 of 6 words both ways: F = 5/6.
    assert rouge_l([[REF]], [HYP]) == pytest.approx(5 / 6)
    # LCS 3: precision 1, recall 3/5; F = (1 + b^2) P R / (R + b^2 P) with b = 1.2.
    expected = (1 + 1.44) * 1.0 * 0.6 / (0.6 + 1.44 * 1.0)
    assert rouge_l([["a person walks forward slowly"]], ["a person walks"]) == pytest.approx(expected)
    assert rouge_l([["x y"]], ["z"]) == 0.0


def test_cider_d_hand_checked_tiny_corpus():
    # Two items, each n-gram in one item's references: idf = log(2) for all of them.
    # Item 1 is its reference word for word: orders 1 and 2 score 1, orders 3-4 have no n-grams:
    # 10 * (1 + 1 + 0 + 0) / 4 = 5.
    refs = [["a b"], ["c d"]]
    assert cider_d(refs, ["a b", "c d"]) == pytest.approx(5.0)
    # "a b b": unigram tf-idf (L, 2L) vs (L, L) -> 2L^2 / (L*sqrt5 * L*sqrt2); bigrams (ab, bb) vs (ab)
    # -> 1/sqrt2; lengths (in bigrams) 2 vs 1 -> penalty exp(-1/72).
    item1 = 10 * (2 / math.sqrt(10) + 1 / math.sqrt(2)) / 4 * math.exp(-1 / 72)
    assert cider_d(refs, ["a b b", "c d"]) == pytest.approx((item1 + 5.0) / 2)


def test_cider_d_prefers_the_right_caption():
    refs = [["a man walks forward", "a person walks ahead"], ["a woman waves her hand"], ["someone jumps twice"]]
    good = cider_d(refs, ["a man walks forward", "a woman waves her hand", "someone jumps twice"])
    bad = cider_d(refs, ["someone jumps twice", "a man walks forward", "a woman waves her hand"])
    assert good > bad >= 0.0


# --- joints and codes -------------------------------------------------------------------------


def test_displacement_errors_both_definitions():
    target = np.zeros((2, 22, 3))
    predicted = target.copy()
    predicted[:, :, 0] = 0.1  # every joint 10 cm off in x
    predicted[1, :, 0] = 0.3
    errors = displacement_errors(predicted, target)
    assert errors.ade_m == pytest.approx(0.2) and errors.fde_m == pytest.approx(0.3)
    # Flattened: sqrt(22) * offset per frame.
    assert errors.ade_flat_m == pytest.approx(math.sqrt(22) * 0.2)
    assert errors.fde_flat_m == pytest.approx(math.sqrt(22) * 0.3)


def test_mpjpe_mm_root_aligned_ignores_a_shifted_root():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(5, 22, 3))
    assert mpjpe_mm(target + [1.0, 0.0, 0.0], target) == pytest.approx(0.0, abs=1e-9)
    assert mpjpe_mm(target + [0.001, 0.0, 0.0], target, root_aligned=False) == pytest.approx(1.0)


def test_codebook_use():
    use = codebook_use([0, 0, 1, 1], codebook_size=4)
    assert use.usage == 0.5 and use.perplexity == pytest.approx(2.0) and use.codes == 4
    with pytest.raises(ValueError):
        codebook_use([4], codebook_size=4)


# --- programs ---------------------------------------------------------------------------------


def test_program_accuracy_definitions():
    wave = Action("wave", side="left", count=2, speed="normal")
    walk = Action("walk", speed="normal", distance=2)
    jump = Action("jump", count=1, speed="normal")
    requested = [(walk, wave), (walk, wave), (jump,), (walk, jump)]
    predicted = [
        (walk, wave),  # exact
        (walk, wave.with_params(side="right")),  # right actions, wrong side
        (Action("jump"),),  # defaults unsaid: still exact
        (jump, walk),  # wrong order
    ]
    acc = program_accuracy(predicted, requested)
    assert acc.exact == 0.5 and acc.actions == 0.75 and acc.n == 4
    assert acc.per_action == {"jump": 0.5, "walk": pytest.approx(2 / 3), "wave": 1.0}
    assert acc.per_param["side"] == 0.5
