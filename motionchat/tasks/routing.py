"""Free-form instruction -> task family, with motion references and durations pulled out.

The router is deliberately rule-based and transparent: chat shows the family it picked, and each
rule below reads as the sentence it catches. Motion references are returned as *names* (a file
path, `m3`, or the session's last/previous motion); the chat session turns them into motions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from motionchat.errors import MotionchatError
from motionchat.motion.timing import HUMANML3D_FPS, MAX_FRAMES, seconds_to_frames

LAST = "<last>"  # "it", "that", "the last one"
PREVIOUS = "<previous>"  # the one before the last, for "compare it with the previous one"

_PATH = re.compile(r""""([^"]+\.(?:npy|bvh|amc))"|'([^']+\.(?:npy|bvh|amc))'|(\S+\.(?:npy|bvh|amc))\b""", re.I)
_NAMED = re.compile(r"\bm(\d+)\b", re.I)
_PRONOUN = re.compile(
    r"\b(it|that(?!\s+(lasts?|takes?|is|are|shows?|goes|has|looks)\b)|this|the last one|the last motion|the latest one|the result|the same motion)\b"
    r"(?!\s+takes?\s+to\b)",  # "how long would it take to ..." is not a reference
    re.I,
)
_IMPLICIT_LAST = re.compile(
    r"\b(this|that) (motion|animation|clip|movement)\b|\bthe (motion|animation|clip)\b(?!\s+(of|where|in which|with|showing))|"
    r"\bwhat (comes|happens) (next|after)\b|^\s*(continue|carry on|keep going)\b",
    re.I,
)
_PREVIOUS = re.compile(r"\b(the previous one|the previous motion|the one before|the first one|the original)\b", re.I)
_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:-\s*)?(seconds?|secs?|s|frames?|minutes?|mins?)\b(?!\s*(?:long|of)\s+(?:it|m\d))", re.I
)
_QUOTED = re.compile(r"[\"“]([^\"”]+)[\"”]")

_MOTION_WORDS = re.compile(
    r"\b(walk|walks|walking|run|runs|running|jog|jogs|jogging|jump|jumps|jumping|hop|hops|wave|waves|waving|"
    r"kick|kicks|kicking|punch|punches|punching|throw|throws|throwing|squat|squats|lunge|lunges|kneel|kneels|"
    r"sit|sits|stand|stands|standing|bow|bows|bend|bends|twist|twists|spin|spins|stretch|stretches|dance|dances|"
    r"dancing|sway|sways|clap|claps|raise|raises|reach|reaches|point|points|turn|turns|step|steps|sidestep|"
    r"sidesteps|crawl|crawls|climb|climbs|move|moves|moving|motion|person|man|woman|someone|somebody|figure)\b",
    re.I,
)


@dataclass
class RoutedRequest:
    """What the user asked for, in the model's terms (frames are the only length unit)."""

    family: str
    caption: str | None = None
    captions: list[str] = field(default_factory=list)
    frames: int | None = None
    edit: str | None = None
    motions: list[str] = field(default_factory=list)  # paths, "m3", LAST, PREVIOUS, in order


class UnknownRequest(MotionchatError):
    """The instruction fits no family; the message lists what can be asked."""


HELP_TEXT = (
    "I can: make a motion from a description ('a person jumps twice', optionally 'for 3 seconds'), "
    "describe a motion ('describe m1'), say how long a motion is or would take, continue a motion "
    "('what comes next?'), fill the middle between two motions, chain several descriptions "
    "('first \"walk\", then \"wave\"'), edit a motion ('make it slower'), compare two motions "
    "('how is m2 different from m1?'), or surprise you ('a random motion')."
)


def _durations(text: str, fps: float) -> tuple[int | None, str]:
    """The first duration in frames, and the text with it removed."""
    match = _DURATION.search(text)
    if not match:
        return None, text
    value, unit = float(match.group(1)), match.group(2).lower()
    if unit.startswith("f"):
        frames = int(round(value))
    elif unit.startswith("m"):
        frames = seconds_to_frames(value * 60, fps)
    else:
        frames = seconds_to_frames(value, fps)
    if frames < 1:
        raise MotionchatError(f"'{match.group(0)}' is too short; ask for at least 1 frame")
    if frames > MAX_FRAMES:
        raise MotionchatError(
            f"'{match.group(0)}' is longer than the model can make ({MAX_FRAMES} frames = "
            f"{MAX_FRAMES / fps:g} s); ask for a shorter motion"
        )
    stripped = (text[: match.start()] + text[match.end() :]).strip()
    stripped = re.sub(r"\b(for|lasting|of|in|about|around|that lasts|long)\s*(?=[,.?!]|$)", "", stripped).strip()
    return frames, stripped


def _motion_refs(text: str) -> tuple[list[str], str]:
    """Motion references in reading order, and the text with file paths and mN names removed."""
    found: list[tuple[int, str]] = []
    for match in _PATH.finditer(text):
        found.append((match.start(), next(g for g in match.groups() if g)))
    for match in _NAMED.finditer(text):
        found.append((match.start(), f"m{int(match.group(1))}"))
    for match in _PREVIOUS.finditer(text):
        found.append((match.start(), PREVIOUS))
    for match in _PRONOUN.finditer(text):
        if not any(start <= match.start() < start + 20 for start, ref in found if ref == PREVIOUS):
            found.append((match.start(), LAST))
    if not found and _IMPLICIT_LAST.search(text):
        found.append((0, LAST))
    refs = [ref for _, ref in sorted(found)]
    deduped = list(dict.fromkeys(refs))
    stripped = _NAMED.sub("", _PATH.sub("", text))
    return deduped, re.sub(r"\s+", " ", stripped).strip()


def _caption_from(text: str) -> str:
    """Strip request words around a description: 'generate a motion where a man jumps' -> 'a man jumps'."""
    quoted = _QUOTED.findall(text)
    if len(quoted) == 1:
        return quoted[0].strip()
    caption = re.sub(
        r"^(please\s+)?(can you\s+|could you\s+|would you\s+)?(please\s+)?"
        r"(generate|create|make|animate|show( me)?|produce|give me|synthesi[sz]e|render|i want|i'd like)\s+(me\s+)?",
        "",
        text.strip(),
        flags=re.I,
    )
    caption = re.sub(
        r"^((a|an|the|some)\s+)?(random\s+)?(motion|animation|clip|sequence|movement)\b\s*"
        r"((of|where|in which|with|showing|that shows)\s+)?",
        "",
        caption,
        flags=re.I,
    )
    return caption.strip(" .?!,:;\"'")


_RULES: list[tuple[str, re.Pattern]] = [
    ("diff", re.compile(r"\b(differ|difference|different|compare|comparison|contrast|changed between|vs\.?|versus)\b", re.I)),
    ("inbetween", re.compile(r"\b(in-?between|inbetween|fill (in )?(the )?(gap|middle)|connect|bridge|transition from|get from)\b", re.I)),
    ("predict", re.compile(r"\b(what (comes|happens) (next|after)|continue|continuation|predict|carry on|extend|next\?|finish (it|the motion))\b", re.I)),
    ("m2length", re.compile(r"\b(how long|how many (seconds|frames)|duration|length)\b", re.I)),
    ("edit", re.compile(
        r"\b(make (it|that|this|m\d+)|edit|change|modify|instead|faster|slower|quicker|mirror|more|less|"
        r"add|remove|replace|without|again but|but with|redo|turn it)\b", re.I)),
    ("m2t", re.compile(r"\b(describe|caption|what (is|are|does) (happening|going on|the person|he|she|they|it|this|that)|explain|summari[sz]e|tell me about|what's happening)\b", re.I)),
]


def route(text: str, *, fps: float = HUMANML3D_FPS) -> RoutedRequest:
    """Pick the family for one instruction; raise `UnknownRequest` if none fits."""
    text = text.strip()
    if not text:
        raise UnknownRequest("empty request. " + HELP_TEXT)
    refs, rest = _motion_refs(text)
    frames, rest = _durations(rest, fps)

    if refs:
        for family, pattern in _RULES:
            if not pattern.search(text):
                continue
            if family == "diff":
                return RoutedRequest("diff", motions=_two(refs))
            if family == "inbetween":
                return RoutedRequest("inbetween", motions=_two(refs))
            if family == "predict":
                return RoutedRequest("predict", motions=refs[:1])
            if family == "m2length":
                return RoutedRequest("m2length", motions=refs[:1])
            if family == "edit":
                return RoutedRequest("edit", edit=_edit_text(rest), motions=refs[:1])
            if family == "m2t":
                if frames is not None:
                    return RoutedRequest("m2t_length", frames=frames, motions=refs[:1])
                return RoutedRequest("m2t", motions=refs[:1])
        return RoutedRequest("m2t", motions=refs[:1])

    lowered = rest.lower()
    quoted = [q.strip() for q in _QUOTED.findall(rest) if q.strip()]
    if len(quoted) >= 2 or (re.search(r"\b(compose|combine|chain|in sequence|one after another)\b", lowered) and quoted):
        return RoutedRequest("compose", captions=quoted, frames=frames)
    if re.search(r"\b(how long|how many (seconds|frames)|duration)\b", lowered):
        caption = re.sub(r"^.*?\b(how long|how many (seconds|frames)|duration)\b\s*(would|does|will|should|might)?\s*(it\s+)?(take|last|be)?\s*(for\s+)?(to\s+)?", "", rest, flags=re.I)
        caption = caption.strip(" ?.!\"'")
        if caption:
            return RoutedRequest("t2length", caption=caption)
    wants_text = re.search(r"\b(caption|description|describe|sentence|text|what could|what might|what can|suggest|idea)\b", lowered)
    wants_random = re.search(r"\b(random|anything|any motion|surprise me|whatever|something)\b", lowered)
    if wants_text and not re.search(r"\b(generate|animate|show me|make a motion)\b", lowered):
        if frames is not None:
            return RoutedRequest("length2t", frames=frames)
        if wants_random or not _MOTION_WORDS.search(_caption_from(rest)):
            return RoutedRequest("random_caption")
    caption = _caption_from(rest)
    meaningful = caption and not re.fullmatch(r"(a |an |some )?(random )?(motion|movement|animation|clip|something|anything)?", caption, re.I)
    if wants_random and not (meaningful and _MOTION_WORDS.search(caption) and not re.search(r"\b(random|anything|something)\b", caption, re.I)):
        return RoutedRequest("length2m", frames=frames) if frames is not None else RoutedRequest("random_motion")
    if frames is not None and not meaningful:
        return RoutedRequest("length2m", frames=frames)
    if meaningful and _MOTION_WORDS.search(caption):
        if frames is not None:
            return RoutedRequest("t2m_length", caption=caption, frames=frames)
        return RoutedRequest("t2m", caption=caption)
    raise UnknownRequest(f"I don't know what to do with '{text}'. " + HELP_TEXT)


def _two(refs: list[str]) -> list[str]:
    """Two motions for diff/in-between; a single reference is compared with the one before it."""
    if len(refs) >= 2:
        return refs[:2]
    return [PREVIOUS, refs[0]] if refs[0] == LAST else [refs[0], LAST]


def _edit_text(rest: str) -> str:
    """The edit request without its reference words: 'make it slower' -> 'slower'."""
    edit = _PRONOUN.sub("", rest)
    edit = re.sub(r"^\s*(please\s+)?(can you\s+|could you\s+)?(make|edit|change|modify|redo|do)\b\s*", "", edit, flags=re.I)
    edit = re.sub(r"\s+", " ", edit).strip(" ,.?!:")
    edit = re.sub(r"\s+\b(of|to|for|in|on|from|with)$", "", edit)
    return edit or rest.strip()
