"""Caption metrics: corpus BLEU, ROUGE-L and CIDEr-D, written from their definitions (no Java).

Sentences are tokenised the same way for all three: lower case, words and numbers only
(punctuation dropped, as the COCO caption toolkit's PTB tokeniser does for these metrics).
Each metric takes `references` (one list of reference captions per item) and `hypotheses`
(one generated caption per item).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

ROUGE_BETA = 1.2  # recall weighted over precision, as in the COCO caption toolkit
CIDER_SIGMA = 6.0  # width of CIDEr-D's Gaussian length penalty, in words
CIDER_SCALE = 10.0


def tokenize(sentence: str) -> list[str]:
    return _WORD.findall(sentence.lower())


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _check(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> None:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} reference lists but {len(hypotheses)} hypotheses")
    if not hypotheses:
        raise ValueError("no captions to score")
    if any(len(refs) == 0 for refs in references):
        raise ValueError("every hypothesis needs at least one reference caption")


def bleu(references: Sequence[Sequence[str]], hypotheses: Sequence[str], max_n: int = 4) -> float:
    """Corpus BLEU@max_n (Papineni et al.): uniform weights over 1..max_n-gram precisions.

    Precisions clip each n-gram's count by its largest count in any one reference and are summed
    over the corpus before dividing; the brevity penalty compares the total hypothesis length
    with the total of the reference lengths closest to each hypothesis (the shorter on a tie).
    No smoothing: a corpus without any matching n-gram of some order scores 0.
    """
    _check(references, hypotheses)
    matched = [0] * max_n
    total = [0] * max_n
    hyp_length = ref_length = 0
    for refs, hyp in zip(references, hypotheses):
        hyp_tokens = tokenize(hyp)
        ref_tokens = [tokenize(r) for r in refs]
        hyp_length += len(hyp_tokens)
        ref_length += min((abs(len(r) - len(hyp_tokens)), len(r)) for r in ref_tokens)[1]
        for n in range(1, max_n + 1):
            counts = _ngrams(hyp_tokens, n)
            max_ref = Counter()
            for r in ref_tokens:
                max_ref |= _ngrams(r, n)  # element-wise max
            matched[n - 1] += sum(min(c, max_ref[g]) for g, c in counts.items())
            total[n - 1] += sum(counts.values())
    if min(matched) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matched, total)) / max_n
    brevity = 1.0 if hyp_length > ref_length else math.exp(1.0 - ref_length / max(hyp_length, 1))
    return brevity * math.exp(log_precision)


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(references: Sequence[Sequence[str]], hypotheses: Sequence[str], beta: float = ROUGE_BETA) -> float:
    """Mean over items of ROUGE-L's F-measure: with the longest common subsequence against each
    reference, precision and recall are each the best over the references, then combined with
    recall weighted by beta (the COCO caption toolkit's definition)."""
    _check(references, hypotheses)
    scores = []
    for refs, hyp in zip(references, hypotheses):
        hyp_tokens = tokenize(hyp)
        precision = recall = 0.0
        for ref in refs:
            ref_tokens = tokenize(ref)
            lcs = _lcs_length(hyp_tokens, ref_tokens)
            if hyp_tokens:
                precision = max(precision, lcs / len(hyp_tokens))
            if ref_tokens:
                recall = max(recall, lcs / len(ref_tokens))
        if precision > 0 and recall > 0:
            scores.append((1 + beta**2) * precision * recall / (recall + beta**2 * precision))
        else:
            scores.append(0.0)
    return sum(scores) / len(scores)


def _tfidf(counts: Counter, document_frequency: Counter, log_n_docs: float, max_n: int):
    """Per n-gram order: tf-idf weights, their L2 norm; plus the bigram count CIDEr-D calls length."""
    vectors = [dict() for _ in range(max_n)]
    norms = [0.0] * max_n
    for gram, tf in counts.items():
        weight = tf * (log_n_docs - math.log(max(1.0, document_frequency[gram])))
        vectors[len(gram) - 1][gram] = weight
        norms[len(gram) - 1] += weight * weight
    length = sum(tf for gram, tf in counts.items() if len(gram) == 2)
    return vectors, [math.sqrt(x) for x in norms], length


def cider_d(
    references: Sequence[Sequence[str]], hypotheses: Sequence[str], max_n: int = 4, sigma: float = CIDER_SIGMA
) -> float:
    """CIDEr-D (Vedantam et al.), as the COCO caption toolkit computes it.

    n-grams (1..max_n) are weighted by tf-idf, the idf taken over the items' reference sets
    (document frequency = number of items whose references contain the n-gram). For each order,
    the hypothesis' clipped weights (min of hypothesis and reference weight) are dotted with the
    reference's and divided by both norms, times a Gaussian penalty exp(-d^2 / 2 sigma^2) on the
    length difference d (the toolkit measures length in bigrams). The score averages the orders
    and the references, times 10, then averages the items.
    """
    _check(references, hypotheses)
    ref_counts = []
    document_frequency: Counter = Counter()
    for refs in references:
        counts = []
        for ref in refs:
            tokens = tokenize(ref)
            grams = Counter()
            for n in range(1, max_n + 1):
                grams += _ngrams(tokens, n)
            counts.append(grams)
        ref_counts.append(counts)
        document_frequency.update({gram for c in counts for gram in c})
    log_n_docs = math.log(len(references))
    scores = []
    for refs, hyp in zip(ref_counts, hypotheses):
        tokens = tokenize(hyp)
        grams = Counter()
        for n in range(1, max_n + 1):
            grams += _ngrams(tokens, n)
        hyp_vec, hyp_norm, hyp_len = _tfidf(grams, document_frequency, log_n_docs, max_n)
        total = 0.0
        for ref in refs:
            ref_vec, ref_norm, ref_len = _tfidf(ref, document_frequency, log_n_docs, max_n)
            penalty = math.exp(-((hyp_len - ref_len) ** 2) / (2 * sigma**2))
            for n in range(max_n):
                dot = sum(min(w, ref_vec[n][g]) * ref_vec[n][g] for g, w in hyp_vec[n].items() if g in ref_vec[n])
                if hyp_norm[n] > 0 and ref_norm[n] > 0:
                    total += penalty * dot / (hyp_norm[n] * ref_norm[n])
        scores.append(CIDER_SCALE * total / (max_n * len(refs)))
    return sum(scores) / len(scores)
