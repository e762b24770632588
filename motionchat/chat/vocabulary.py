"""What a bundle's model has read: the words of its captions, taken from the bundle itself.

A bundle's text tokenizer was trained on (or, for a pretrained backbone, covers) the captions the
model learnt from. A word the tokenizer holds whole was common in that text; a word it has to
spell out in pieces ("cartwheel" -> c·art·wheel) was rare or absent, and the model cannot know
the motion it names. The *action words* are the whole words that are not instruction words (those
of the bundle's own `templates/` snapshot) and not grammar. A pretrained tokenizer holds most
English words whole, so with one the check warns rarely; that is its limit.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from pathlib import Path

_GRAMMAR = set(
    "a an the and or but then than this that these those with without from into onto over under for to of in on at by "
    "his her their its he she they them him someone somebody person man woman human people figure character one two "
    "three four five once twice thrice times time while after before again also very some any more less each both "
    "who which what when where how does doing done did do is are was were be been being has have had not no yes "
    "your you me my our it as so up out off all just only same other another first last next back way place".split()
)
_SUFFIXES = ("", "s", "es", "ing", "ed", "d", "ly")


@functools.lru_cache(maxsize=8)
def _whole_words(bundle: Path) -> frozenset[str]:
    path = bundle / "lm" / "tokenizer.json"
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    except (OSError, ValueError, KeyError, TypeError):
        return frozenset()
    pieces = [entry[0] if isinstance(entry, list) else entry for entry in vocab]
    words = set()
    for piece in pieces:
        word = piece.lstrip("▁Ġ")
        if piece != word and word.isalpha() and len(word) > 1:
            words.add(word.lower())
    return frozenset(words)


@functools.lru_cache(maxsize=8)
def _template_words(bundle: Path) -> frozenset[str]:
    words: set[str] = set()
    for path in sorted((bundle / "templates").glob("*.json")):
        try:
            family = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for line in family.get("instructions", []) + family.get("answers", []):
            words.update(w.lower() for w in re.findall(r"[A-Za-z]+", re.sub(r"\{\w+\}", " ", line)))
    return frozenset(words)


def known_actions(bundle: Path) -> list[str]:
    """The bundle's action words: whole words of its captions that are neither instructions nor grammar."""
    whole = _whole_words(Path(bundle))
    actions = whole - _template_words(Path(bundle)) - _GRAMMAR
    return sorted(w for w in actions if _is_word(w, whole))


_INFLECTIONS = ("s", "es", "ing", "ed", "d", "er", "ping", "ning", "ging", "ting", "ming", "ward", "wards")


def _is_word(piece: str, whole: frozenset[str]) -> bool:
    """A whole piece is a word, not a stump of longer words ('circl', 'abo'), when no longer piece
    starts with it except its own inflections; a three-letter piece needs an inflection to show it."""
    longer = [w for w in whole if w != piece and w.startswith(piece)]
    inflected = any(w[len(piece):] in _INFLECTIONS for w in longer)
    if len(piece) < 3:
        return False
    if len(piece) < 4:
        return inflected
    return all(w[len(piece):] in _INFLECTIONS for w in longer)


def _known(word: str, whole: frozenset[str]) -> bool:
    word = word.lower()
    if word in _GRAMMAR or len(word) < 4:
        return True
    for suffix in _SUFFIXES:
        if suffix and not word.endswith(suffix):
            continue
        stem = word[: len(word) - len(suffix)] if suffix else word
        if stem in whole or stem + "e" in whole or (len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in whole):
            return True
    return False


def unknown_words_note(bundle: Path, caption: str | None) -> str | None:
    """One line naming the caption's words this model has not learnt, with the nearest it knows."""
    whole = _whole_words(Path(bundle))
    if not caption or not whole:
        return None
    unknown = [w for w in dict.fromkeys(re.findall(r"[A-Za-z]+", caption)) if not _known(w, whole)]
    if not unknown:
        return None
    actions = known_actions(Path(bundle))
    nearest = []
    for word in unknown:
        nearest += difflib.get_close_matches(word.lower(), actions, n=2, cutoff=0.6)
    nearest = list(dict.fromkeys(nearest))[:4]
    quoted = ", ".join(f"'{w}'" for w in unknown)
    near = f" Nearest it knows: {', '.join(nearest)}." if nearest else ""
    return f"this model has not learnt {quoted}; the motion may not show it.{near} (`motionchat actions`, or /actions in a chat session, lists what it knows)"


def describe_known_actions(bundle: Path) -> str:
    actions = known_actions(Path(bundle))
    if not actions:
        return f"the bundle at {bundle} has no readable tokenizer vocabulary to list"
    return f"the words of motion this model has learnt ({len(actions)}): " + ", ".join(actions)
