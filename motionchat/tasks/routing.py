"""Free-form instruction -> task family, with motion references and durations pulled out.

The router is deliberately rule-based and transparent: chat shows the family it picked, and each
rule below reads as the sentence it catches. Motion references are returned as *names* (a file
path, `m3`, or the session's last/previous motion); the chat session turns them into motions.

Order of reading: file paths first (a motion name inside a path is part of the path), then named
motions (`m3`, "motion 3"), then pronouns ("it", "this clip"), which only count when no motion is
named explicitly or the family needs one more motion than was named. Durations are read with
their adverbs ("exactly 3 seconds", "about half a minute") and checked against what the model can
make. Then the request's *intent* picks the family; a request that mentions a motion but asks for
nothing this model does is refused with what was understood, never answered with a caption.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field

from motionchat.errors import MotionchatError
from motionchat.motion.timing import HUMANML3D_FPS, MAX_FRAMES, MIN_FRAMES, frames_to_seconds, seconds_to_frames

LAST = "<last>"  # "it", "that", "the last one"
PREVIOUS = "<previous>"  # the one before the last, for "compare it with the previous one"

_PATH = re.compile(
    r""""([^"]+\.(?:npy|bvh|amc))"|'([^']+\.(?:npy|bvh|amc))'|(?<![\w~.+/-])((?:[\w~.+-]|/)+\.(?:npy|bvh|amc))(?![\w/])""", re.I
)
_NAMED = re.compile(r"\b(?:m|motion\s*#?\s*|clip\s*#?\s*)(\d+)\b", re.I)
_PRONOUN = re.compile(
    r"\b(?:(it|him|that(?!'s|\s+(lasts?|takes?|is|are|shows?|goes|has|looks|way|one\s+after)\b)|this)\b"
    r"(?!\s+(takes?|would take|will take)\s+((a|the|one)\s+)?(person|man|woman|someone|somebody|people|human|you|me)?\s*to\b)"
    r"(?!\s+(takes?|would take|will take|to)\b)"  # "how long would it take to ..." is not a reference
    r"|(the last one|the last motion|the latest one|the result|the same motion|the one you (just )?made|"
    r"the last clip|the latest motion|the new one)\b)",
    re.I,
)
_BOTH = re.compile(r"\b(them|both|the two( motions| clips)?|these two|those two)\b", re.I)  # the last two motions
_IMPLICIT_LAST = re.compile(
    r"\b(this|that|the) (motion|animation|clip|movement|sequence|person|man|woman|figure|character)\b"
    r"(?!\s+(of|where|in which|with|showing))|"
    r"\bwhat (comes|happens|would happen) (next|after)\b|\bwhat (would|will|does|might) (the person|he|she|they) do next\b|"
    r"^\s*(please\s+)?(continue|carry on|keep going)\b|^\s*(and\s+)?then what\b",
    re.I,
)
_PREVIOUS = re.compile(r"\b(the previous one|the previous motion|the one before|the first one|the original)\b", re.I)
_QUOTED = re.compile(r"[\"“]([^\"”]+)[\"”]")

_WORD_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "half a": 0.5,
    "half an": 0.5, "a couple of": 2, "a couple": 2, "a few": 3, "several": 4,
}  # fmt: skip
_NUMBER_WORD = "|".join(sorted((re.escape(w) for w in _WORD_NUMBERS), key=len, reverse=True))
_NUMBER = rf"(?:\d+(?:[.,]\d+)?|\.\d+|(?:{_NUMBER_WORD})(?:[\s-](?:one|two|three|four|five|six|seven|eight|nine))?)"
_ADVERB = (
    r"(?:exactly|precisely|about|around|roughly|approximately|approx\.?|nearly|almost|just|only|at most|at least|"
    r"up to|no more than|no less than|maybe|some|~)"
)
_UNIT = r"(?:milliseconds?|ms|seconds?|secs?|s|frames?|fr|f|minutes?|mins?|m(?=\s|$))"
_DURATION = re.compile(
    rf"(?P<lead>\b(?:for|lasting|of|in|taking|within|over)\s+)?(?P<adv>{_ADVERB}\s+)?"
    rf"(?P<sign>-\s*|\bminus\s+|\bnegative\s+)?(?P<num>\b{_NUMBER}|(?<![\w.])\.\d+)"
    rf"(?P<half>\s+and\s+a\s+half)?\s*(?:-\s*)?(?P<unit>{_UNIT})\b(?P<long>-?\s*long\b)?"
    r"(?!\s*(?:long\s+)?(?:of|is)\s+(?:it|m\d))",
    re.I,
)
_ASKS_UNIT = re.compile(r"\bhow many (seconds|frames|minutes)|\bin (seconds|frames|minutes)\b", re.I)

_ACTION_VOCABULARY = (
    "walk|walks|walking|run|runs|running|jog|jogs|jogging|jump|jumps|jumping|hop|hops|hopping|wave|waves|waving|"
    "kick|kicks|kicking|punch|punches|punching|throw|throws|throwing|squat|squats|squatting|lunge|lunges|kneel|"
    "kneels|kneeling|sit|sits|sitting|stand|stands|standing|bow|bows|bowing|bend|bends|bending|twist|twists|spin|"
    "spins|spinning|stretch|stretches|stretching|dance|dances|dancing|sway|sways|clap|claps|clapping|raise|raises|"
    "raising|reach|reaches|reaching|point|points|pointing|turn|turns|turning|step|steps|stepping|sidestep|"
    "sidesteps|crawl|crawls|crawling|climb|climbs|climbing|cartwheel|cartwheels|swim|swims|swimming|march|"
    "marches|marching|skip|skips|skipping|lift|lifts|lifting|push|pushes|pick|picks|shuffle|shuffles|stomp|"
    "stomps|lean|leans|leaning|nod|nods|shake|shakes|salute|salutes|flap|flaps|rotate|rotates|hand|hands|arm|"
    "arms|leg|legs|foot|feet|head|crouch|crouches|tiptoe|tiptoes|limp|limps|stumble|stumbles|fall|falls|lie|"
    "lies|get up|gets up|sprint|sprints|stroll|strolls|circle|forward|backward|backwards|sideways|left|right"
)
_SUBJECT_NOUNS = (
    "person|man|woman|someone|somebody|figure|character|guy|girl|boy|lady|human|he|she|they|people|dancer|athlete|"
    "child|kid"
)
_ACTION_WORDS = re.compile(rf"\b({_ACTION_VOCABULARY})\b", re.I)  # what a description has someone do
_MOTION_WORDS = re.compile(rf"\b({_ACTION_VOCABULARY}|{_SUBJECT_NOUNS}|move|moves|moving|motion)\b", re.I)
_SUBJECT = re.compile(rf"^(a|an|the|one|some)?\s*({_SUBJECT_NOUNS})\b", re.I)

# Words that ask for something; they are not part of the motion description the model gets.
_REQUEST_WORDS = re.compile(
    r"^(?:(?:hey|hi|hello|ok|okay|so|now|and|also|please|pls|plz|kindly)[,!]?\s+)*"
    r"(?:(?:can|could|would|will) (?:you|u) (?:please )?|i (?:would|'d) like (?:you )?to |i want (?:you )?to |"
    r"i need (?:you )?to |please |let's |let me see |i'd love to see )?"
    r"(?:generate|create|make|animate|show(?: me)?|produce|give(?: me)?|synthesi[sz]e|render|draw|build|"
    r"i want|i'd like|i would like|i need|can i (?:get|have|see)|could i (?:get|have|see)|may i (?:have|see)|"
    r"let me see|i'd love to see|get me|do|perform|see|watch|have)\s+(?:me\s+|us\s+)?(?:please\s+)?",
    re.I,
)
_CONTAINER_WORDS = re.compile(
    r"^(?:(?:a|an|the|some|one)\s+)?(?:new\s+|short\s+|quick\s+|little\s+|nice\s+|small\s+)?(?:3d\s+)?"
    r"(?:motion|animation|clip|sequence|movement|mocap|motion capture|video|gif)\b\s*"
    r"(?:(?:of|where|in which|with|showing|that shows|for|about|depicting|:)\s+)?",
    re.I,
)
_GENERIC = re.compile(
    r"^(?:(?:a|an|some|one)\s+)?(?:random\s+)?(?:(?:random|any|whatever|arbitrary)\s*(?:motion|movement|animation|clip|"
    r"thing|one)?|something(?:\s+(?:random|else|fun|cool|interesting|new))?|anything(?:\s+(?:at all|you like|you want))?|"
    r"whatever(?:\s+(?:you like|you want|you fancy|comes to mind))?|surprise me|dealer's choice|your choice|"
    r"motion|movement|animation|clip)"
    r"(?:\s+(?:you like|you want|please|at all|for me))?$",
    re.I,
)
_RANDOM_WORDS = re.compile(
    r"\b(random|randomly|anything|any motion|any movement|any animation|surprise me|whatever|something|"
    r"arbitrary|your choice|dealer's choice|you choose|up to you)\b",
    re.I,
)
_SEQUENCE = re.compile(
    r"\s*(?:,\s*|;\s*|\.\s+)?\b(?:and then|, then|then|after that|afterwards|and afterwards|followed by|next|"
    r"and finally|finally|and after that)\b\s*,?\s*",
    re.I,
)

# (family, intent pattern) for requests about motions, first match wins.
_MOTION_RULES: list[tuple[str, re.Pattern]] = [
    ("diff", re.compile(
        r"\b(differ|differs|difference|differences|different|compare|comparison|contrast|changed between|vs\.?|"
        r"versus|distinguish|same as|similar)\b", re.I)),
    ("inbetween", re.compile(
        r"\b(in-?between|inbetween|in between|fill (in )?(the )?(gap|middle|hole)|fill in|connect|bridge|transition (from|between)|"
        r"get from|link|join (them|m\d+)|between .+ and|missing (part|middle|piece|bit|section|frames)|"
        r"complete the (missing|middle|gap)|gap between|what happens between)\b", re.I)),
    ("predict", re.compile(
        r"\b(what (comes|happens|would happen|will happen) (next|after)|continue|continuation|continues|predict|"
        r"carry on|keep going|extend|next\?|(do|does|did) next|finish (it|the motion|this|that|m\d+)|"
        r"what next|after that\?|go on|rest of (it|the motion)|complete (it|the motion|this)|finish|"
        r"(do|does|will|would|did) (\w+ )?(next|after|afterwards|later)|^(and )?then what)\b", re.I)),
    ("m2length", re.compile(
        r"\b(how long|how many (seconds|frames|minutes)|duration|length|how much time|number of frames|frame count)\b",
        re.I)),
    ("edit", re.compile(
        r"\b(make (it|that|this|m\d+|the (motion|person|clip))|edit|change|modify|instead|faster|slower|quicker|"
        r"mirror|more|less|add|remove|replace|without|again but|but with|redo|turn it|speed (\S+ )?up|slow (\S+ )?down|"
        r"swap|flip|higher|lower|bigger|smaller|twice as|adjust|tweak|alter|let (the person|him|her|them))\b", re.I)),
    ("m2t", re.compile(
        r"\b(describe|description|caption|what (is|are|does|did) (happening|going on|the person|he|she|they|it|this|that|"
        r"m\d+)|explain|summari[sz]e|tell me about|what's happening|what is happening|what's going on|what happens in|"
        r"what('s| is| are) (the|this|that) (person|man|woman|figure|character|guy)\b.*\bdoing|"
        r"what (action|motion|movement)|which (action|motion|movement)|what kind of|label|name the|"
        r"what do you see|in words|narrate|say what|tell me what|what (\S+ )?(shows?|depicts?))\b", re.I)),
]
_DESCRIBE_AND_LENGTH = re.compile(r"\b(and|also|plus|with)\b.*\b(how long|duration|length|how many (seconds|frames))\b", re.I)
_RULE = dict(_MOTION_RULES)
_LENGTH_QUESTION = _RULE["m2length"]
_TEXT_STRONG_WORDS = (
    "caption|captions|description|sentence|text|suggest|idea|ideas|write|invent|make up|"
    "what (?:motion|action|movement)s? (?:fits?|would fit|could fit)"
)
_TEXT_STRONG = re.compile(rf"\b({_TEXT_STRONG_WORDS})\b", re.I)  # asks for words whatever else it says
_TEXT_WANTED = re.compile(rf"\b({_TEXT_STRONG_WORDS}|describe|what could|what might|what can|what would|words?)\b", re.I)

HELP_TEXT = (
    "I can: make a motion from a description ('a person jumps twice', optionally 'for 3 seconds'), "
    "describe a motion ('describe m1'), say how long a motion is or would take, continue a motion "
    "('what comes next?'), fill the middle between two motions ('fill in between m1 and m2'), chain "
    "several actions ('first walk forward, then wave'), edit a motion ('make it slower'), compare two "
    "motions ('how is m2 different from m1?'), or surprise you ('a random motion')."
)

# What to say to reach each family that takes a motion, for "did you mean" answers.
MOTION_FAMILY_EXAMPLES = {
    "m2t": "describe it: 'describe {m}'",
    "edit": "change it: 'make {m} slower', 'make the person in {m} wave instead'",
    "predict": "continue it: 'what comes after {m}?'",
    "inbetween": "fill the middle: 'fill in between {m} and mN'",
    "m2length": "its length: 'how long is {m}?'",
    "diff": "compare it: 'how is {m} different from mN?'",
}


@dataclass
class RoutedRequest:
    """What the user asked for, in the model's terms (frames are the only length unit)."""

    family: str
    caption: str | None = None
    captions: list[str] = field(default_factory=list)
    frames: int | None = None
    edit: str | None = None
    motions: list[str] = field(default_factory=list)  # paths, "m3", LAST, PREVIOUS, in order
    unit: str | None = None  # "seconds" | "frames" | "minutes" when the question asked for one
    note: str | None = None  # when unsure: which family was chosen and how to ask for the other

    @property
    def model_text(self) -> str | None:
        """The description the model gets (the caption, the parts joined, or the edit), if any."""
        if self.captions:
            return " | ".join(self.captions)
        return self.caption or self.edit


class UnknownRequest(MotionchatError):
    """The instruction fits no family; the message lists what can be asked."""


def clean_request(text: str) -> str:
    """A request as text the rest of the program can handle: bytes that are not UTF-8 (a shell
    passes them as lone surrogates) become U+FFFD, control characters become spaces."""
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(" " if (ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0) else ch for ch in text)


# --- durations ------------------------------------------------------------------------------------


def _number(text: str) -> float:
    text = text.lower().strip()
    if re.fullmatch(r"\d+(?:[.,]\d+)?|\.\d+", text):
        return float(text.replace(",", "."))
    words = re.split(r"[\s-]+", text)
    if " ".join(words) in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[" ".join(words)])
    return float(sum(_WORD_NUMBERS.get(w, 0) for w in words if w not in ("a", "an")) or _WORD_NUMBERS[words[0]])


def _unit_name(unit: str) -> str:
    unit = unit.lower()
    if unit in ("ms",) or unit.startswith("milli"):
        return "milliseconds"
    if unit.startswith("f"):
        return "frames"
    if unit.startswith("m"):
        return "minutes"
    return "seconds"


def _first_duration(text: str) -> re.Match | None:
    for match in _DURATION.finditer(text):
        short_unit = match.group("unit").lower() in ("s", "m", "f", "fr")
        if short_unit and not re.match(r"[\d.]", match.group("num")):
            continue  # "a s" or "one m" is not a duration
        return match
    return None


def _match_frames(match: re.Match, fps: float) -> int:
    value = _number(match.group("num")) + (0.5 if match.group("half") else 0.0)
    unit = _unit_name(match.group("unit"))
    if unit == "frames":
        return int(round(value))
    return seconds_to_frames(value * {"milliseconds": 0.001, "minutes": 60.0}.get(unit, 1.0), fps)


def duration_in(text: str, fps: float = HUMANML3D_FPS) -> int | None:
    """The first duration written in a text, in frames ('A length of 141 frames fits it.' -> 141)."""
    match = _first_duration(text)
    return None if match is None else _match_frames(match, fps)


def in_unit(frames: int, unit: str | None, fps: float = HUMANML3D_FPS) -> str:
    """A length said in the unit a question asked for ('7.1 s', '141 frames'), both when none."""
    seconds = frames_to_seconds(frames, fps)
    if unit == "frames":
        return f"{frames} frames"
    if unit == "minutes":
        return f"{seconds / 60:.2g} min"
    if unit == "seconds":
        return f"{seconds:.1f} s"
    return f"{frames} frames ({seconds:.1f} s)"


def _durations(text: str, fps: float) -> tuple[int | None, str, str | None, str | None]:
    """The duration asked for in frames, the text with it (and its adverb) removed, its unit, and a
    note when several durations were added up ('walk for 3 s, then run for 2 s' is 5 s in all)."""
    phrases, parts, unit = [], [], None
    while (match := _first_duration(text)) is not None:
        phrase = match.group(0)[len(match.group("lead") or ""):].strip()
        if match.group("sign"):
            raise MotionchatError(f"'{phrase}' is negative; a duration must be positive, e.g. '3 seconds'")
        unit = unit or _unit_name(match.group("unit"))
        phrases.append(phrase)
        parts.append(_match_frames(match, fps))
        text = re.sub(r"\s+", " ", text[: match.start()] + " " + text[match.end() :]).strip()
    if not parts:
        return None, text, None, None
    frames, phrase = sum(parts), " + ".join(phrases)
    if frames < MIN_FRAMES:
        raise MotionchatError(
            f"'{phrase}' is {frames} frame{'s' if frames != 1 else ''}, shorter than the model's minimum of "
            f"{MIN_FRAMES} frames ({frames_to_seconds(MIN_FRAMES, fps):g} s); ask for at least that"
        )
    if frames > MAX_FRAMES:
        raise MotionchatError(
            f"'{phrase}' is longer than the model can make ({MAX_FRAMES} frames = "
            f"{MAX_FRAMES / fps:g} s); ask for a shorter motion"
        )
    note = None
    if len(parts) > 1:
        note = f"made {in_unit(frames, None, fps)} in all ({phrase}); the model cannot time each part"
    stripped = re.sub(r"\s+([,.?!])", r"\1", text)
    stripped = re.sub(
        r"\b(for|lasting|of|in|about|around|that lasts|that's|that is|which is|long|a|an)\s*(?=[,.?!]|$)", "", stripped
    ).strip()
    return frames, stripped, unit, note


# --- motion references ----------------------------------------------------------------------------


def _motion_refs(text: str) -> tuple[list[str], list[str], str]:
    """Explicit references (paths, mN) and pronoun references, each in reading order, and the text
    with paths and names removed. A name inside a path ('runs/m2.npy') is part of the path."""
    explicit: list[tuple[int, str]] = []
    spans: list[tuple[int, int]] = []
    for match in _PATH.finditer(text):
        explicit.append((match.start(), next(g for g in match.groups() if g)))
        spans.append(match.span())
    masked = _blank(text, spans)
    for match in _NAMED.finditer(masked):
        explicit.append((match.start(), f"m{int(match.group(1))}"))
        spans.append(match.span())
    weak: list[tuple[int, str]] = []
    for match in _PREVIOUS.finditer(masked):
        weak.append((match.start(), PREVIOUS))
    for match in _PRONOUN.finditer(masked):
        if not any(start <= match.start() < start + 20 for start, ref in weak if ref == PREVIOUS):
            weak.append((match.start(), LAST))
    if not weak and _IMPLICIT_LAST.search(masked):
        weak.append((0, LAST))
    for i, (start, end) in enumerate(spans):  # "the person in m1" -> "the person": its preposition goes too
        before = re.search(r"\b(in|of|from|on)\s+$", text[max(0, start - 8) : start], re.I)
        if before:
            spans[i] = (max(0, start - 8) + before.start(), end)
    stripped = _blank(text, spans)
    stripped = re.sub(r"\b(of|in|from|for|on|to|with)\s*(?=[,.?!:]|$)", "", re.sub(r"\s+", " ", stripped)).strip()
    return [ref for _, ref in sorted(explicit)], _ordered(weak), stripped  # "compare m1 with m1" is two


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with each (start, end) span turned into spaces, so other positions stay put."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _ordered(found: list[tuple[int, str]]) -> list[str]:
    return list(dict.fromkeys(ref for _, ref in sorted(found)))


# --- descriptions ---------------------------------------------------------------------------------


def caption_from(text: str) -> str:
    """The motion description without the request around it:
    'could you please show me an animation of a man jumping, thanks' -> 'a man jumping'."""
    quoted = _QUOTED.findall(text)
    if len(quoted) == 1 and quoted[0].strip():
        return quoted[0].strip()
    caption = text.strip()
    for _ in range(3):  # "please, could you generate me a clip of ..." peels in a few passes
        before = caption
        caption = _REQUEST_WORDS.sub("", caption, count=1)
        caption = _CONTAINER_WORDS.sub("", caption, count=1)
        if caption == before:
            break
    caption = re.sub(
        r"[,.!\s]*\b(please|pls|plz|thanks|thank you|thx|for me|if you can|if possible|ok\??)\s*[.!?]*$", "", caption,
        flags=re.I,
    )
    caption = re.sub(r"^(of|with|where|in which|showing)\s+", "", re.sub(r"\s+", " ", caption).strip(), flags=re.I)
    return caption.strip(" .?!,:;\"'[](){}<>/\\*#_~`|-")


def _compose_parts(text: str) -> list[str] | None:
    """Unquoted parts in order: 'first walk forward, then sit down' -> ['walk forward', 'sit down'];
    'wave before sitting down' -> ['wave', 'sitting down']; 'after X, Y' / 'Y after X' -> [X, Y]."""
    body = re.sub(r"^\s*(first(ly)?|to start( with)?|start by|begin by|start with)\b[,:]?\s*", "", text, flags=re.I)
    parts = [p for p in _SEQUENCE.split(body) if p and p.strip(" ,.;")]
    if len(parts) < 2:
        order = re.match(r"^\s*(?:after|once)\s+(.+?),\s*(.+)$", body, re.I)
        if order:
            parts = [order.group(1), order.group(2)]
        elif (split := re.match(r"^(.+?)\s+\b(before|after)\b\s+(.+)$", body, re.I)) and not re.search(
            r"\b(that|this|it|m\d+)\s*$", split.group(3), re.I
        ):
            parts = [split.group(1), split.group(3)]
            if split.group(2).lower() == "after":
                parts.reverse()
        else:
            return None
    parts = [re.sub(r"^(and|then|,)\s+", "", p.strip(" ,.;:!?\"'"), flags=re.I) for p in parts]
    parts = [p for p in (caption_from(p) for p in parts) if p]
    return parts if len(parts) >= 2 else None


def _is_compose(rest: str, caption: str) -> list[str] | None:
    """Parts to chain when the request lists actions in order without a subject ('first walk, then
    sit'); a caption with a subject ('a person walks, then sits') is one description (t2m)."""
    lowered = rest.lower()
    quoted = [q.strip() for q in _QUOTED.findall(rest) if q.strip()]
    explicit = re.search(r"\b(compose|combine|chain|in sequence|one after (another|the other)|in this order|in order|"
                         r"back to back|sequence of)\b", lowered)  # fmt: skip
    if len(quoted) >= 2 or (explicit and quoted):
        return quoted
    parts = _compose_parts(caption)
    if not parts:
        return None
    if explicit or re.match(r"^\s*(first|firstly|to start|start by|begin by|start with)\b", caption, re.I):
        return parts
    if not _SUBJECT.match(caption):
        return parts
    return None


def _closest_motion_families(request: str, understood: str, ref: str) -> str:
    """'I understood ...' and the motion families whose example requests read most like the request."""
    name = ref if not ref.startswith("<") else "it"
    examples = [example.format(m=name) for example in MOTION_FAMILY_EXAMPLES.values()]
    asked = request.lower()[:200]
    closest = sorted(examples, key=lambda e: -difflib.SequenceMatcher(None, asked, e.lower()).ratio())
    return f"I understood {understood} but not what to do with it. Closest I can do: {'; '.join(closest[:3])}"


# --- the router -----------------------------------------------------------------------------------


def route(text: str, *, fps: float = HUMANML3D_FPS) -> RoutedRequest:
    """Pick the family for one instruction; raise `UnknownRequest` if none fits.

    A request that fits nothing as typed is tried once more with likely typos corrected
    ("descibe m1"); the correction is named in the request's note."""
    text = " ".join(clean_request(text).split())
    unreadable = text.count("\ufffd")
    text = " ".join(text.replace("\ufffd", " ").split())
    if not text:
        raise UnknownRequest("empty request. " + HELP_TEXT)
    if unreadable:
        request = route(text, fps=fps)
        skipped = f"skipped {unreadable} character{'s' if unreadable > 1 else ''} that are not text (not UTF-8)"
        request.note = skipped + (f"; {request.note}" if request.note else "")
        return request
    if len(text) > 2000:
        raise UnknownRequest(f"the request is {len(text)} characters long; keep it under 2000")
    text, changes = _correct_units(text)
    try:
        request = _route(text, fps)
    except UnknownRequest as as_typed:
        corrected, typos = _correct_typos(text)
        if not typos:
            raise
        try:
            request = _route(corrected, fps)
        except UnknownRequest:
            raise as_typed from None
        changes += typos
    if changes:
        read_as = ", ".join(f"'{a}' as '{b}'" for a, b in changes)
        request.note = f"read {read_as}" + (f"; {request.note}" if request.note else "")
    return request


def _route(text: str, fps: float) -> RoutedRequest:
    explicit, weak, rest = _motion_refs(text)
    intent = next((family for family, pattern in _MOTION_RULES if pattern.search(text)), None)
    if intent == "edit" and len(explicit) >= 2 and re.search(r"\bthan\b", text, re.I):
        intent = "diff"  # "is m1 faster than m2?" asks about both, it does not edit one
    if intent == "edit" and (explicit or (weak and not _SUBJECT.match(caption_from(rest)))):
        # before durations are read: in "make it 2 seconds longer" the duration is part of the edit
        return RoutedRequest("edit", edit=_edit_text(rest), motions=(explicit or weak)[:1])
    frames, rest, unit, several = _durations(rest, fps)
    asked_unit = _ASKS_UNIT.search(text)
    if asked_unit:
        unit = next(g for g in asked_unit.groups() if g).lower()
    elif not _LENGTH_QUESTION.search(text):
        unit = None

    if intent == "m2length" and _RULE["m2t"].search(text) and _DESCRIBE_AND_LENGTH.search(text):
        intent = "m2t_length"
    if intent == "edit" and _RULE["m2t"].search(text) and not re.search(r"\b(make|change|edit|modify)\b", text, re.I):
        intent = "m2t"  # "describe it without the arms" is a question about it, not an edit
    caption = caption_from(rest)
    describes_new = bool(_SUBJECT.match(caption) and _MOTION_WORDS.search(caption)) and intent in (None, "predict", "edit")
    if weak and not explicit and intent is None and not describes_new and _IMPLICIT_LAST.search(text):
        intent = "predict" if re.search(r"\bnext\b|\bcontinue|\bcarry on|\bkeep going", text, re.I) else None

    refs = explicit or []
    if not explicit and weak and not describes_new:
        refs = weak
    if intent in ("diff", "inbetween") and not explicit and (_BOTH.search(text) or not refs):
        refs = [PREVIOUS, LAST]  # "compare them", "what's the difference?"

    if refs and intent is None and not explicit and _MOTION_WORDS.search(caption) and not _LENGTH_QUESTION.search(text):
        refs = []  # "a person jumps and then does it again" describes a new motion
    if refs and intent in ("diff", "inbetween") and len(refs) < 2:
        refs = (explicit + [w for w in weak if w not in explicit]) if explicit else refs

    if intent == "m2length" and refs and not explicit:
        # "how long would it take a person to jump?" asks about a description, not a motion
        length_caption = _length_caption(rest)
        if length_caption and _ACTION_WORDS.search(length_caption):
            refs = []

    if refs:
        request = _route_motion_request(text, rest, intent, refs, frames, unit)
    else:
        request = _route_text_request(text, rest, frames, unit, fps)
    if several:
        request.note = several + (f"; {request.note}" if request.note else "")
    if not refs and re.search(r"\b(it|this|that)\b", text, re.I) and request.family == "t2length" and not request.note:
        request.note = "timed the description; to time the last motion instead, ask 'how long is it?'"
    return request


def _route_motion_request(
    text: str, rest: str, intent: str | None, refs: list[str], frames: int | None, unit: str | None
) -> RoutedRequest:
    if intent == "diff":
        return RoutedRequest("diff", motions=_two(refs))
    if intent == "inbetween":
        note = None
        if len(refs) == 1:
            note = ("filling the middle of one motion (its first and last quarter kept); to join two motions "
                    "name both: 'fill in between m1 and m2'")  # fmt: skip
        return RoutedRequest("inbetween", motions=refs[:2], note=note)
    if intent == "predict":
        note = None
        if frames is not None:
            note = "a continuation's length is the model's choice; the duration asked for was not used"
        return RoutedRequest("predict", motions=refs[:1], note=note)
    if intent == "m2t_length":
        return RoutedRequest("m2t_length", frames=frames, motions=refs[:1], unit=unit)
    if intent == "m2length":
        return RoutedRequest("m2length", motions=refs[:1], unit=unit)
    if intent == "edit":
        return RoutedRequest("edit", edit=_edit_text(rest), motions=refs[:1])
    if intent == "m2t":
        if frames is not None:
            return RoutedRequest("m2t_length", frames=frames, motions=refs[:1])
        return RoutedRequest("m2t", motions=refs[:1])
    if refs[0] in (LAST, PREVIOUS):
        what = "a reference to the last motion" if refs[0] == LAST else "a reference to the previous motion"
    else:
        what = f"motion {refs[0]}" if re.fullmatch(r"m\d+", refs[0]) else f"a motion file {refs[0]}"
    if re.search(r"\b(do|does|will|would)\b.*\b(after|later|then)\b", text, re.I):
        return RoutedRequest("predict", motions=refs[:1])
    raise UnknownRequest(_closest_motion_families(text, what, refs[0]))


def _length_caption(rest: str) -> str:
    caption = re.sub(
        r"^.*?\b(how long|how many (seconds|frames|minutes)|how much time|duration|length)\b\s*"
        r"(would|does|will|should|might|do|is)?\s*(it\s+)?(usually\s+|typically\s+|normally\s+)?(take|last|be|need)?\s*"
        r"((a|the|one)\s+(person|man|woman|human)\s+|someone\s+|somebody\s+|you\s+|me\s+|people\s+)?(for\s+)?(to\s+)?"
        r"(of\s+)?",
        "", rest, flags=re.I,
    )  # fmt: skip
    caption = re.sub(r"\s+(take|takes|last|lasts|need|needs|require|requires)\s*(\?|$)", "", caption, flags=re.I)
    return caption_from(caption.strip(" ?.!\"'"))


def _route_text_request(text: str, rest: str, frames: int | None, unit: str | None, fps: float) -> RoutedRequest:
    lowered = rest.lower()
    caption = caption_from(rest)
    parts = _is_compose(rest, caption)
    if parts:
        return RoutedRequest("compose", captions=parts, frames=frames)
    if _LENGTH_QUESTION.search(lowered) and frames is None:
        length_caption = _length_caption(rest)
        if length_caption:
            return RoutedRequest("t2length", caption=length_caption, unit=unit)
        raise UnknownRequest(
            f"I understood a question about a duration in '{text}' but no motion to time; name one ('how long is "
            "m1?') or describe one ('how long would it take to jump three times?')"
        )
    if _LENGTH_QUESTION.search(lowered) and frames is not None and not _ACTION_WORDS.search(caption):
        raise UnknownRequest(
            f"that is {in_unit(frames, None, fps)} at {fps:g} fps; to make a motion that long, ask e.g. "
            f"'a person walks for {frames} frames'"
        )
    strong_text = _TEXT_STRONG.search(lowered)
    wants_text = strong_text or (_TEXT_WANTED.search(lowered) and not re.search(
        r"\b(generate|animate|show me|make a (motion|clip|animation)|animation|clip)\b", lowered
    ))
    wants_random = _RANDOM_WORDS.search(lowered)
    if wants_text and (frames is not None or wants_random or strong_text or not _MOTION_WORDS.search(caption) or
                       re.search(r"\b(what could|what might|what can|what would|suggest|idea|ideas)\b", lowered)):  # fmt: skip
        if frames is not None:
            return RoutedRequest("length2t", frames=frames)
        return RoutedRequest("random_caption")
    generic = not caption or _GENERIC.match(caption)
    if generic or (wants_random and not _ACTION_WORDS.search(_RANDOM_WORDS.sub(" ", caption))):
        return RoutedRequest("length2m", frames=frames) if frames is not None else RoutedRequest("random_motion")
    if _MOTION_WORDS.search(caption) or _SUBJECT.match(caption):
        note = None
        if _compose_parts(caption) and len(_compose_parts(caption) or []) >= 2:
            note = ("read as one description; to chain the parts as separate actions, say "
                    "'first <action>, then <action>' without a subject, or quote each part")  # fmt: skip
        if frames is not None:
            return RoutedRequest("t2m_length", caption=caption, frames=frames, note=note)
        return RoutedRequest("t2m", caption=caption, note=note)
    raise UnknownRequest(f"I don't know what to do with '{text}'. " + HELP_TEXT)


def _two(refs: list[str]) -> list[str]:
    """Two motions for diff/in-between; a single reference is compared with the one before it."""
    if len(refs) >= 2:
        return refs[:2]
    return [PREVIOUS, refs[0]] if refs[0] == LAST else [refs[0], LAST]


def _edit_text(rest: str) -> str:
    """The edit request without its reference words: 'make it slower' -> 'slower'."""
    edit = _PRONOUN.sub("", rest)
    edit = re.sub(r"\b(in|of|from|on)\s+(?=(to|into|so|by|with)\b)", "", edit, flags=re.I)  # a removed name's preposition
    edit = re.sub(
        r"^\s*(?:(?:please|pls|kindly|now|ok|okay|and)[,]?\s+)*(can you\s+|could you\s+|would you\s+)?(please\s+)?"
        r"(make|edit|change|modify|redo|do|alter|tweak|adjust)\b\s*(so that\s+|so\s+)?",
        "", edit, flags=re.I,
    )  # fmt: skip
    edit = re.sub(r"\s+", " ", edit).strip(" ,.?!:")
    edit = re.sub(r"^(the (person|man|woman|figure|character|guy)|him|her|them)\s+(?=\w)", "", edit, flags=re.I)
    edit = re.sub(r"^what (the person|he|she|they) (does|do|is doing)\s+(to|into|for)\s+(.+)$", r"\4 instead", edit, flags=re.I)
    edit = re.sub(r"\s+\b(of|to|for|in|on|from|with)$", "", edit)
    edit = re.sub(r"[,.!\s]*\b(please|thanks|thank you)$", "", edit, flags=re.I).strip(" ,.?!:")
    return edit or rest.strip()


# --- typos ----------------------------------------------------------------------------------------

_KEYWORDS = sorted(
    {
        "describe", "caption", "compare", "different", "difference", "continue", "predict", "between", "generate",
        "create", "animate", "random", "something", "anything", "faster", "slower", "mirror", "seconds", "second",
        "frames", "minutes", "person", "someone", "walks", "walking", "jumps", "jumping", "waves", "waving", "runs",
        "running", "kicks", "kicking", "squats", "dances", "dancing", "turns", "spins", "forward", "backward", "twice",
        "how", "long", "duration", "length", "next", "happens", "comes", "make", "motion", "animation", "please",
        "first", "then", "after", "before", "followed", "explain", "summarize", "sits", "stands", "clap", "claps",
        "surprise", "transition", "idea",
    }
)  # fmt: skip


_COMMON = set(
    "the and for you can his her she him are was one two six ten its out off per man arm leg run hop bow sit how "
    "any way day now new try let see say get put top low end use set all not but has had too who why what when "
    "then than them they this that with from into over jump wave kick walk step turn spin clap hand foot feet "
    "arms legs head left right back side once here there some more less fast slow high make made take took done".split()
)
_UNIT_WORDS = ["seconds", "second", "frames", "frame", "minutes", "minute"]


def _correct_units(text: str) -> tuple[str, list[tuple[str, str]]]:
    """A misspelt unit right after a number ('3 secnds') is read as the unit it is closest to."""
    changes: list[tuple[str, str]] = []

    def fix(match: re.Match) -> str:
        word = match.group(2)
        if word.lower() in _UNIT_WORDS or not 4 <= len(word) <= 14:
            return match.group(0)
        close = difflib.get_close_matches(word.lower(), _UNIT_WORDS, n=1, cutoff=0.75)
        if not close:
            return match.group(0)
        changes.append((word, close[0]))
        return match.group(1) + close[0]

    return re.sub(r"(\d\s*)([A-Za-z]+)\b", fix, text), changes


@functools.lru_cache(maxsize=4096)
def _closest_keyword(word: str) -> str | None:
    close = difflib.get_close_matches(word, _KEYWORDS, n=1, cutoff=0.8)
    return close[0] if close else None


def _correct_typos(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Words one or two letters off a routing keyword, corrected ('descibe' -> 'describe')."""
    changes: list[tuple[str, str]] = []

    def fix(match: re.Match) -> str:
        word = match.group(0)
        lowered = word.lower()
        if not 3 <= len(lowered) <= 14 or lowered in _KEYWORDS or lowered in _COMMON:
            return word
        close = _closest_keyword(lowered)
        if close is None:
            return word
        changes.append((word, close))
        return close

    spans = [m.span() for m in _PATH.finditer(text)]
    pieces, last = [], 0
    for start, end in spans + [(len(text), len(text))]:
        pieces.append(re.sub(r"[A-Za-z]+", fix, text[last:start]))
        pieces.append(text[start:end])
        last = end
    return "".join(pieces), changes
