"""Words for programs: paraphrased captions, a part-of-speech tagger, and the parser back.

Every action has at least five clause templates. A template is plain text with

* `<verb>`: an inflectable verb, written as its lemma (third person "walks", or gerund "walking"
  after "before"/"after");
* `{slot}`: a parameter put into words (`{hand}` `{arm}` `{leg}` `{knee}` `{count}`
  `{speed}` `{speed_pre}` `{dist}` `{dir}` `{dir_adj}` `{poss}` `{obj}`), or `{n:noun|nouns}`,
  the count spelled with a noun ("two kicks").

Captions always spell out every parameter except normal speed and a count of one, which they may
leave unsaid; `parse_caption` recovers the program from any caption these templates make.
Clause templates never contain the words that join clauses ("then", "and", commas...), so the
parser can split a caption into clauses before it reads them.
"""

from __future__ import annotations

import re

import numpy as np

from motionchat.data.synth.vocabulary import ACTIONS, DEFAULTS, Action, Program

# ---- clause templates -----------------------------------------------------------------------

TEMPLATES: dict[str, list[str] | dict[str, list[str]]] = {
    "walk": [
        "<walk> forward {dist} {speed}", "{speed_pre} <walk> forward {dist}", "<walk> straight ahead for {dist} {speed}",
        "<move> forward {dist} by walking {speed}", "<walk> {dist} in a straight line {speed}",
        "<take> a few steps forward covering {dist} {speed}",
    ],
    "walk_backward": [
        "<walk> backward {dist} {speed}", "{speed_pre} <walk> backwards {dist}", "<step> back {dist} {speed}",
        "<back> up {dist} {speed}", "<move> backward {dist} {speed}", "<walk> in reverse for {dist} {speed}",
    ],
    "sidestep": [
        "<sidestep> {dir} {dist} {speed}", "<step> sideways {dir} for {dist} {speed}", "<shuffle> {dist} {dir} {speed}",
        "{speed_pre} <sidestep> {dir} for {dist}", "<move> sideways {dir} {dist} {speed}",
        "<take> side steps {dir} for {dist} {speed}",
    ],
    "walk_circle": [
        "<walk> in a circle {dir} {speed}", "<walk> around in a {dir_adj} circle {speed}",
        "{speed_pre} <walk> a full circle {dir}", "<circle> around {dir} {speed}",
        "<make> a {dir_adj} circle on foot {speed}", "<walk> in a {dir_adj} circle {speed}",
    ],
    "turn": {
        "around": [
            "<turn> around {speed}", "<turn> all the way around {speed}", "{speed_pre} <turn> around",
            "<turn> 180 degrees {speed}", "<turn> to face the opposite direction {speed}",
            "<turn> back the other way {speed}",
        ],
        "*": [
            "<turn> {dir} {speed}", "<turn> ninety degrees {dir} {speed}", "{speed_pre} <turn> {dir}",
            "<make> a {dir_adj} turn {speed}", "<rotate> {dir} in place {speed}", "<pivot> {dir} {speed}",
        ],
    },
    "jog": [
        "<jog> forward {dist} {speed}", "{speed_pre} <jog> {dist}", "<jog> ahead for {dist} {speed}",
        "<go> for a short jog of {dist} {speed}", "<jog> in a straight line for {dist} {speed}",
        "<trot> forward {dist} {speed}",
    ],
    "run": [
        "<run> forward {dist} {speed}", "{speed_pre} <run> {dist} ahead", "<run> ahead for {dist} {speed}",
        "<break> into a run for {dist} {speed}", "<run> straight for {dist} {speed}",
        "<go> running forward {dist} {speed}",
    ],
    "jump": [
        "<jump> in place {count} {speed}", "{speed_pre} <jump> up {count}", "<jump> on the spot {count} {speed}",
        "<do> {n:jump|jumps} in place {speed}", "<leap> straight up {count} {speed}", "<jump> vertically {count} {speed}",
    ],
    "jump_forward": [
        "<jump> forward {count} {speed}", "{speed_pre} <jump> ahead {count}", "<leap> forward {count} {speed}",
        "<do> {n:forward jump|forward jumps} {speed}", "<jump> forward with both feet {count} {speed}",
        "<make> {n:jump|jumps} forward {speed}",
    ],
    "hop": [
        "<hop> on {leg} {count} {speed}", "{speed_pre} <hop> {count} on {leg}", "<jump> on {leg} {count} {speed}",
        "<do> {n:hop|hops} on {leg} {speed}", "<hop> in place on {leg} {count} {speed}",
        "<bounce> on {leg} {count} {speed}",
    ],
    "wave": [
        "<wave> {hand} {count} {speed}", "{speed_pre} <wave> with {hand} {count}", "<wave> hello with {hand} {count} {speed}",
        "<give> {n:wave|waves} with {hand} {speed}", "<wave> {hand} in the air {count} {speed}",
        "<wave> at someone with {hand} {count} {speed}",
    ],
    "raise_arms": [
        "<raise> {arm} {count} {speed}", "{speed_pre} <lift> {arm} above {poss} head {count}",
        "<put> {arm} up in the air {count} {speed}", "<raise> {arm} over {poss} head {count} {speed}",
        "<lift> {arm} straight up {count} {speed}", "<raise> {arm} high {count} {speed}",
    ],
    "clap": [
        "<clap> {count} {speed}", "<clap> {poss} hands {count} {speed}", "{speed_pre} <clap> {count}",
        "<give> {n:clap|claps} {speed}", "<clap> {poss} hands together {count} {speed}", "<applaud> {count} {speed}",
    ],
    "punch": [
        "<punch> with {hand} {count} {speed}", "<throw> {n:punch|punches} with {hand} {speed}",
        "{speed_pre} <punch> forward with {hand} {count}", "<jab> with {hand} {count} {speed}",
        "<punch> the air with {hand} {count} {speed}", "<strike> forward with {fist} {count} {speed}",
    ],
    "throw": [
        "<throw> something with {hand} {count} {speed}", "<throw> a ball with {hand} {count} {speed}",
        "{speed_pre} <throw> an object {count} using {hand}", "<toss> something overhand with {hand} {count} {speed}",
        "<make> {n:throwing motion|throwing motions} with {hand} {speed}", "<pitch> a ball with {hand} {count} {speed}",
    ],
    "reach": [
        "<reach> forward with {hand} {speed}", "<reach> out in front with {hand} {speed}", "{speed_pre} <extend> {arm} forward",
        "<reach> {arm} out ahead {speed}", "<reach> for something in front with {hand} {speed}",
        "<extend> {arm} straight out in front {speed}",
    ],
    "point": [
        "<point> {dir} with {hand}", "<point> {dir} using {poss} {side} index finger", "<use> {hand} to point {dir}",
        "<point> {poss} {side} arm {dir}", "<point> {dir} with {poss} {side} finger", "<raise> {hand} to point {dir}",
    ],
    "kick": [
        "<kick> with {leg} {count} {speed}", "<kick> {leg} forward {count} {speed}", "{speed_pre} <kick> {count} using {leg}",
        "<do> {n:kick|kicks} with {leg} {speed}", "<kick> the air with {leg} {count} {speed}",
        "<kick> out with {leg} {count} {speed}",
    ],
    "squat": [
        "<squat> down {count} {speed}", "<do> {n:squat|squats} {speed}", "{speed_pre} <squat> {count}",
        "<bend> {poss} knees into a squat {count} {speed}", "<crouch> down into a squat {count} {speed}",
        "<lower> into a deep squat {count} {speed}",
    ],
    "lunge": [
        "<lunge> forward with {leg} {count} {speed}", "<do> {n:lunge|lunges} with {leg} forward {speed}",
        "{speed_pre} <lunge> {count} leading with {leg}", "<step> into a lunge with {leg} {count} {speed}",
        "<lunge> {count} with {leg} in front {speed}", "<perform> {n:lunge|lunges} on {leg} {speed}",
    ],
    "kneel": [
        "<kneel> down on {knee} {speed}", "<go> down on {knee} {speed}", "{speed_pre} <kneel> on {knee}",
        "<drop> to {knee} {speed}", "<get> down on {knee} for a moment {speed}", "<kneel> briefly on {knee} {speed}",
    ],
    "sit_down": [
        "<sit> down {speed}", "{speed_pre} <sit> down", "<take> a seat {speed}", "<sit> down on a chair {speed}",
        "<lower> {obj} into a chair {speed}", "<settle> into a seated position {speed}",
    ],
    "stand_up": [
        "<stand> up {speed}", "<get> up from {poss} seat {speed}", "{speed_pre} <rise> from the chair",
        "<stand> up from sitting {speed}", "<get> to {poss} feet {speed}", "<rise> to a standing position {speed}",
    ],
    "bow": [
        "<bow> {count} {speed}", "<bow> forward {count} {speed}", "<take> {n:bow|bows} {speed}",
        "{speed_pre} <bow> down politely {count}", "<give> {n:deep bow|deep bows} {speed}",
        "<bend> forward at the waist in a bow {count} {speed}",
    ],
    "touch_toes": [
        "<touch> {poss} toes {count} {speed}", "<bend> down to touch {poss} toes {count} {speed}",
        "{speed_pre} <reach> down to {poss} toes {count}", "<touch> the floor {count} {speed}",
        "<bend> over to touch the ground {count} {speed}", "<fold> forward to reach {poss} toes {count} {speed}",
    ],
    "twist": [
        "<twist> {poss} torso {count} {speed}", "<twist> from side to side {count} {speed}",
        "{speed_pre} <rotate> {poss} upper body from side to side {count}", "<twist> at the waist {count} {speed}",
        "<turn> {poss} torso side to side {count} {speed}", "<swing> {poss} upper body from side to side {count} {speed}",
    ],
    "spin": [
        "<spin> around {dir} {speed}", "{speed_pre} <spin> {dir}", "<twirl> {dir} {speed}", "<do> a full spin {dir} {speed}",
        "<turn> a full 360 degrees {dir} {speed}", "<spin> all the way around {dir} {speed}",
    ],
    "stretch": [
        "<stretch> {poss} arms up {speed}", "<stretch> upward {speed}", "{speed_pre} <stretch> {poss} arms overhead",
        "<stretch> up on {poss} toes {speed}", "<do> a full body stretch {speed}", "<stretch> toward the sky {speed}",
    ],
    "stand_still": [
        "<stand> still", "<stand> in place without moving", "<stay> still for a moment", "<remain> motionless",
        "<stand> quietly in place", "<wait> in place",
    ],
    "sway": [
        "<sway> from side to side {count} {speed}", "<sway> {poss} hips {count} {speed}", "<rock> from side to side {count} {speed}",
        "<shift> {poss} weight from foot to foot {count} {speed}", "{speed_pre} <sway> {count} side to side",
        "<sway> {poss} body side to side {count} {speed}",
    ],
    "dance": [
        "<dance> {speed}", "<dance> in place {speed}", "{speed_pre} <dance> around", "<do> a little dance {speed}",
        "<dance> with some side steps {speed}", "<groove> to music {speed}",
    ],
}

# ---- words for parameter values ----------------------------------------------------------------

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
COUNT_ADVERBS = {
    1: ["once", "one time", "", ""],
    2: ["twice", "two times", "2 times"],
    3: ["three times", "3 times", "thrice"],
    4: ["four times", "4 times"],
}
SPEED_WORDS = {
    "slow": ["slowly", "at a slow pace", "in a slow manner"],
    "fast": ["quickly", "fast", "rapidly", "at a fast pace", "at a quick pace"],
    "normal": ["", "", "", "at a normal pace", "at a steady pace", "at a moderate pace"],
}
SPEED_PREFIX = {"slow": ["slowly"], "fast": ["quickly", "rapidly"], "normal": [""]}
_SIDE_DIRECTION = {
    "left": ["to the left", "left", "to {poss} left", "leftward"],
    "right": ["to the right", "right", "to {poss} right", "rightward"],
}
DIRECTION_WORDS = {
    "sidestep": _SIDE_DIRECTION,
    "turn": _SIDE_DIRECTION,
    "spin": {k: [w for w in v if w not in ("left", "right")] + ["toward the " + k] for k, v in _SIDE_DIRECTION.items()},
    "walk_circle": {
        "clockwise": ["clockwise", "in a clockwise direction"],
        "counterclockwise": ["counterclockwise", "counter-clockwise", "anticlockwise", "in a counterclockwise direction"],
    },
    "point": {
        "forward": ["forward", "straight ahead", "ahead", "to the front"],
        "left": ["to the left", "to {poss} left", "left"],
        "right": ["to the right", "to {poss} right", "right"],
        "up": ["up", "upward", "up at the sky", "at the ceiling"],
    },
}
DIRECTION_ADJECTIVES = {
    "clockwise": ["clockwise"],
    "counterclockwise": ["counterclockwise", "counter-clockwise", "anticlockwise"],
    "left": ["left"],
    "right": ["right"],
}
LIMB_FORMS = {
    "hand": (["{poss} {side} hand", "the {side} hand", "{poss} {side} arm"], ["both hands", "both arms", "both of {poss} hands"]),
    "arm": (["{poss} {side} arm", "the {side} arm"], ["both arms", "both of {poss} arms"]),
    "leg": (["{poss} {side} leg", "the {side} leg", "{poss} {side} foot", "the {side} foot"], None),
    "knee": (["{poss} {side} knee", "the {side} knee"], None),
    "fist": (["{poss} {side} fist", "the {side} fist"], None),
}
SUBJECTS = [  # (subject, possessive, reflexive, pronouns used when the subject comes back)
    ("a person", ("his", "her", "their"), ("himself", "herself", "themselves"), ("the person", "he", "she")),
    ("someone", ("his", "her", "their"), ("himself", "herself", "themselves"), ("the person", "he", "she")),
    ("a man", ("his",), ("himself",), ("he", "the man")),
    ("a woman", ("her",), ("herself",), ("she", "the woman")),
    ("the person", ("his", "her", "their"), ("himself", "herself", "themselves"), ("he", "she", "the person")),
    ("a human", ("his", "her", "their"), ("himself", "herself", "themselves"), ("the person", "he", "she")),
]

# ---- verbs ----------------------------------------------------------------------------------

_IRREGULAR_THIRD = {"do": "does", "go": "goes", "have": "has"}
_DOUBLE_FINAL = {"jog", "run", "hop", "step", "sit", "spin", "clap", "squat", "put", "get", "drop", "jab", "shuffle"}


def third_person(lemma: str) -> str:
    if lemma in _IRREGULAR_THIRD:
        return _IRREGULAR_THIRD[lemma]
    if re.search(r"(s|sh|ch|x|z)$", lemma):
        return lemma + "es"
    if re.search(r"[^aeiou]y$", lemma):
        return lemma[:-1] + "ies"
    return lemma + "s"


def gerund(lemma: str) -> str:
    if lemma.endswith("ie"):
        return lemma[:-2] + "ying"
    if lemma in _DOUBLE_FINAL and not lemma.endswith("e"):
        return lemma + lemma[-1] + "ing"
    if lemma.endswith("e") and not lemma.endswith(("ee", "ye", "oe")):
        return lemma[:-1] + "ing"
    return lemma + "ing"


# ---- rendering ------------------------------------------------------------------------------


class _Voice:
    """Who the caption talks about: subject phrase, pronouns, possessive, reflexive."""

    def __init__(self, rng: np.random.Generator):
        subject, possessives, reflexives, pronouns = SUBJECTS[rng.integers(len(SUBJECTS))]
        k = int(rng.integers(len(possessives)))
        self.subject, self.poss, self.obj = subject, possessives[k], reflexives[k]
        self.pronouns = [p for p in pronouns if p not in ("he", "she") or (possessives[k], p) in (("his", "he"), ("her", "she"))] or [pronouns[0]]

    def pronoun(self, rng: np.random.Generator) -> str:
        return self.pronouns[rng.integers(len(self.pronouns))]


def _pick(rng: np.random.Generator, options):
    return options[rng.integers(len(options))]


def action_templates(action: Action) -> list[str]:
    templates = TEMPLATES[action.name]
    if isinstance(templates, dict):
        templates = templates.get(action.direction, templates["*"])
    return templates


def render_clause(action: Action, template: str, voice: _Voice, rng: np.random.Generator, form: str = "third") -> str:
    """One action as a clause (no subject); `form` is "third" ("waves"), "gerund" ("waving") or
    "base" ("wave", for instructions)."""

    def slot(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("n:"):
            singular, plural = name[2:].split("|")
            count = action.count or 1
            if count == 1:
                return _pick(rng, ["a", "one"]) + " " + singular
            return NUMBER_WORDS[count] + " " + plural
        if name in LIMB_FORMS:
            single, both = LIMB_FORMS[name]
            return _pick(rng, both if action.side == "both" else single)
        if name == "side":
            return action.side
        if name == "count":
            return _pick(rng, COUNT_ADVERBS[action.count or 1])
        if name == "speed":
            return _pick(rng, SPEED_WORDS[action.speed or "normal"])
        if name == "speed_pre":
            return _pick(rng, SPEED_PREFIX[action.speed or "normal"])
        if name == "dist":
            number = action.distance
            spelled = _pick(rng, [NUMBER_WORDS[number], str(number)] + (["a"] if number == 1 else []))
            unit = _pick(rng, ["meter", "metre"]) + ("" if number == 1 else "s")
            return _pick(rng, ["", "about ", "roughly "]) + spelled + " " + unit
        if name == "dir":
            return _pick(rng, DIRECTION_WORDS[action.name][action.direction])
        if name == "dir_adj":
            return _pick(rng, DIRECTION_ADJECTIVES[action.direction])
        if name == "poss":
            return voice.poss
        if name == "obj":
            return voice.obj
        raise KeyError(f"unknown slot {{{name}}} in a template of {action.name}")

    def verb(match: re.Match) -> str:
        lemma = match.group(1)
        return {"gerund": gerund, "third": third_person, "base": str}[form](lemma)

    text = template
    for _ in range(2):  # slots may hold {poss} / {side}
        text = re.sub(r"\{([^{}]+)\}", slot, text)
    text = re.sub(r"<([a-z-]+)>", verb, text)
    return re.sub(r"\s+", " ", text).strip()


# Caption shapes: c1..c3 are clauses in the third person, g1..g3 gerund clauses, {S} the subject,
# {P} the subject again (a pronoun or "the person").
SHAPES = {
    1: ["{S} {c1}", "{S} {c1}."],
    2: [
        "{S} {c1}, then {c2}.", "{S} {c1} and then {c2}.", "{S} {c1} and {c2}.", "{S} {c1}. after that, {P} {c2}.",
        "{S} {c1} before {g2}.", "after {g1}, {S} {c2}.", "first {S} {c1}, then {P} {c2}.",
        "{S} {c1}, and afterwards {P} {c2}.", "{S} {c2} after {g1}.", "before {g2}, {S} {c1}.",
    ],
    3: [
        "{S} {c1}, {c2}, and then {c3}.", "{S} {c1}, then {c2}, and finally {c3}.",
        "first {S} {c1}, then {P} {c2}, and finally {P} {c3}.", "{S} {c1} and {c2}. after that, {P} {c3}.",
        "after {g1}, {S} {c2} and then {c3}.", "{S} {c1}, then {c2} before {g3}.",
    ],
}


def write_captions(program: Program, rng: np.random.Generator, n: int = 3) -> list[str]:
    """`n` different captions of a program (different shapes and templates where possible)."""
    shapes = list(SHAPES[len(program)])
    shape_order = rng.permutation(len(shapes))
    template_orders = [rng.permutation(len(action_templates(a))) for a in program]
    captions: list[str] = []
    for k in range(8 * n):
        if len(captions) == n:
            break
        voice = _Voice(rng)
        shape = shapes[shape_order[k % len(shapes)]]
        values = {"S": voice.subject, "P": voice.pronoun(rng)}
        for i, action in enumerate(program):
            templates = action_templates(action)
            template = templates[template_orders[i][k % len(templates)]]
            values[f"c{i + 1}"] = render_clause(action, template, voice, rng, "third")
            values[f"g{i + 1}"] = render_clause(action, template, voice, rng, "gerund")
        text = re.sub(r"\s+", " ", shape.format(**values)).strip()
        text = re.sub(r"\s+([,.])", r"\1", text)
        if text not in captions:
            captions.append(text)
    return captions


# ---- tagging (HumanML3D's "word/POS" tokens) ------------------------------------------------------

_VERB_LEMMAS = sorted({m for t in TEMPLATES.values() for ts in (t.values() if isinstance(t, dict) else [t]) for s in ts for m in re.findall(r"<([a-z-]+)>", s)})
_LEXICON: dict[str, tuple[str, str]] = {}


def _add(pos: str, words: str, lemma_of=None) -> None:
    for word in words.split():
        _LEXICON[word] = (lemma_of.get(word, word) if lemma_of else word, pos)


_add("DET", "a an the both his her their some all any")
_add("PRON", "he she someone something himself herself themselves it")
_add("NOUN", "person man woman human hand hands arm arms leg legs foot feet knee knees fist head hips body torso "
     "waist toes floor ground chair seat position line circle steps step meter meters metre metres jump jumps "
     "hop hops wave waves clap claps punch punches kick kicks squat squats lunge lunges bow bows spin jog run "
     "ball object motion motions air spot place moment direction way degrees side sky ceiling finger index "
     "music dance stretch weight turn front", {"hands": "hand", "arms": "arm", "legs": "leg", "feet": "foot",
     "knees": "knee", "hips": "hip", "toes": "toe", "steps": "step", "meters": "meter", "metres": "metre",
     "jumps": "jump", "hops": "hop", "waves": "wave", "claps": "clap", "punches": "punch", "kicks": "kick",
     "squats": "squat", "lunges": "lunge", "bows": "bow", "motions": "motion", "degrees": "degree"})
_add("ADJ", "left right full deep short little few straight opposite standing seated slow fast quick normal "
     "steady moderate clockwise counterclockwise counter-clockwise anticlockwise other high single")
_add("ADV", "forward forwards backward backwards back then first finally afterwards once twice thrice slowly "
     "quickly rapidly fast up down out over around sideways ahead together briefly politely vertically still "
     "quietly overhand overhead upward leftward rightward away about roughly straight high hello")
_add("ADP", "in on at to with into from for of by before after toward towards above without like using")
_add("CCONJ", "and or")
_add("NUM", "one two three four five ninety 180 360 1 2 3 4 5")
_add("ADJ", "motionless upper")
_add("AUX", "is are was were be been being", {w: "be" for w in "is are was were been being".split()})
_add("PRON", "that")
_add("NOUN", "reverse")
_add("NOUN", "times time manner pace", {"times": "time"})
_LEXICON["leading"] = ("lead", "VERB")
_LEXICON["walking"] = ("walk", "VERB")
_LEXICON["running"] = ("run", "VERB")
_LEXICON["sitting"] = ("sit", "VERB")
_LEXICON["throwing"] = ("throw", "VERB")
_LEXICON["covering"] = ("cover", "VERB")
_LEXICON["touch"] = ("touch", "VERB")
_LEXICON["reach"] = ("reach", "VERB")
_LEXICON["point"] = ("point", "VERB")
_LEXICON["face"] = ("face", "VERB")
_VERB_FORMS: dict[str, str] = {}
for _lemma in _VERB_LEMMAS:
    for _form in (_lemma, third_person(_lemma), gerund(_lemma)):
        _VERB_FORMS.setdefault(_form, _lemma)
        _LEXICON.setdefault(_form, (_lemma, "VERB"))


def tag_word(word: str) -> tuple[str, str]:
    """(lemma, POS) of a lower-case word; unknown words fall back on simple suffix rules."""
    if word in _LEXICON:
        return _LEXICON[word]
    if re.fullmatch(r"\d+", word):
        return word, "NUM"
    if word.endswith("ly"):
        return word, "ADV"
    if word.endswith("ing"):
        return word, "VERB"
    return word, "NOUN"


def known_word(word: str) -> bool:
    return word in _LEXICON or bool(re.fullmatch(r"\d+", word))


def caption_words(caption: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:-[a-z]+)?", caption.lower())


def tag_caption(caption: str) -> str:
    """HumanML3D's token field: "lemma/POS" for every word, punctuation dropped.

    Words that are nouns or verbs ("punches", "jump") are nouns after a determiner, number or
    adjective ("two punches", "a full spin") and verbs otherwise ("she punches").
    """
    tokens, previous = [], None
    for word in caption_words(caption):
        lemma, pos = tag_word(word)
        if pos == "NOUN" and word in _VERB_FORMS and previous not in ("DET", "NUM", "ADJ"):
            lemma, pos = _VERB_FORMS[word], "VERB"
        tokens.append(f"{lemma}/{pos}")
        previous = pos
    return " ".join(tokens)


def caption_line(caption: str) -> str:
    """One `texts/ID.txt` line: caption#tokens#start#end (0.0#0.0: the whole clip)."""
    return f"{caption}#{tag_caption(caption)}#0.0#0.0"


# ---- parsing ------------------------------------------------------------------------------

_PRON = r"(?:his|her|their|the|one)"
ACTION_PATTERNS: list[tuple[str, str]] = [  # first match wins: specific before general
    ("stand_up", r"\b(?:stands?|standing|gets?|getting|rises?|rising)\s+(?:up|to \w+ feet)\b|\brises? from\b|\brising from\b|\bstanding position\b"),
    ("sit_down", r"\bsit|\bseat|\bchair\b"),
    ("kneel", r"\bkneel|\b(?:left|right) knee\b"),
    ("stand_still", r"\bstill\b|\bmotionless\b|\bwithout moving\b|\bwait|\bquietly\b"),
    ("stretch", r"\bstretch"),
    ("touch_toes", r"\btoes?\b|\bthe floor\b|\bthe ground\b"),
    ("squat", r"\bsquat|\bcrouch"),
    ("lunge", r"\blung"),
    ("kick", r"\bkick"),
    ("bow", r"\bbow(?:s|ing)?\b"),
    ("twist", r"\btwist|\btorso\b|\bupper body\b|\bwaist\b"),
    ("sway", r"\bsway|\brock|\bweight\b"),
    ("dance", r"\bdanc|\bgroov"),
    ("spin", r"\bspin|\btwirl|\b360\b"),
    ("walk_circle", r"\bcircl"),
    ("hop", rf"\bhop|\bbounc\w* on\b|\bon {_PRON} (?:left|right) (?:leg|foot)\b"),
    ("jump_forward", r"\b(?:jump|leap)\w*\b.*\b(?:forward|ahead)\b|\bforward jumps?\b"),
    ("jump", r"\bjump|\bleap"),
    ("punch", r"\bpunch|\bjab|\bfist\b|\bstrik"),
    ("throw", r"\bthrow|\btoss|\bpitch"),
    ("clap", r"\bclap|\bapplaud"),
    ("wave", r"\bwav"),
    ("point", r"\bpoint"),
    ("raise_arms", r"\brais|\blift|\bput\w*\b.*\bup\b"),
    ("reach", r"\breach|\bextend"),
    ("turn", r"\bturn|\bpivot|\brotat"),
    ("walk_backward", r"\bbackwards?\b|\bbacks? up\b|\bbacking up\b|\breverse\b|\bstep\w* back\b"),
    ("sidestep", r"\bside ?step|\bsideways\b|\bshuffl"),
    ("jog", r"\bjog|\btrot"),
    ("run", r"\brun"),
    ("walk", r"\bwalk|\bmov\w* forward\b|\bsteps forward\b"),
]
_WORD_NUMBERS = {"a": 1, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_WORD_NUMBERS.update({str(k): k for k in range(1, 6)})
_NUMBER = r"(a|one|two|three|four|five|[1-5])"
_LIMB = r"(?:hand|arm|leg|foot|knee|fist|finger)s?"


def _parse_clause(clause: str) -> Action | None:
    """The action a clause describes, with its parameters; None if it names no action."""
    name = next((n for n, pattern in ACTION_PATTERNS if re.search(pattern, clause)), None)
    if name is None:
        return None
    spec = ACTIONS[name]
    values: dict = {}
    rest = clause
    if "side" in spec.params:
        match = re.search(rf"\b(left|right)\s+(?:index\s+)?{_LIMB}\b", rest) or re.search(rf"\b(both)\b(?:\s+of\s+\w+)?\s+{_LIMB}", rest)
        if match:
            values["side"] = match.group(1)
            rest = rest[: match.start()] + rest[match.end() :]
    if "speed" in spec.params:
        if re.search(r"\bslow", rest):
            values["speed"] = "slow"
        elif re.search(r"\b(?:quick|fast|rapid)", rest):
            values["speed"] = "fast"
        else:
            values["speed"] = DEFAULTS["speed"]
    if "count" in spec.params:
        values["count"] = _parse_count(rest)
    if "distance" in spec.params:
        match = re.search(rf"\b{_NUMBER}\s+met(?:er|re)s?\b", rest)
        if match:
            values["distance"] = _WORD_NUMBERS[match.group(1)]
    if "direction" in spec.params:
        values["direction"] = _parse_direction(name, rest)
    values = {k: v for k, v in values.items() if v is not None}
    return Action(name, **values)


def _parse_count(text: str) -> int:
    for pattern, count in ((r"\bonce\b|\bone time\b", 1), (r"\btwice\b|\b(?:two|2) times\b", 2), (r"\bthrice\b|\b(?:three|3) times\b", 3), (r"\b(?:four|4) times\b", 4)):
        if re.search(pattern, text):
            return count
    match = re.search(rf"\b{_NUMBER}\s+(?:forward |deep |throwing )?(?:jump|hop|wave|clap|punch|kick|squat|lunge|bow|motion)", text)
    if match:
        return _WORD_NUMBERS[match.group(1)]
    return DEFAULTS["count"]


def _parse_direction(name: str, text: str) -> str | None:
    if name == "walk_circle":
        if re.search(r"\b(?:counter-?clockwise|anti-?clockwise)\b", text):
            return "counterclockwise"
        return "clockwise" if re.search(r"\bclockwise\b", text) else None
    if name == "turn" and re.search(r"\baround\b|\b180\b|\bopposite\b|\bother way\b", text):
        return "around"
    if name == "point":
        if re.search(r"\b(?:up|upward|sky|ceiling)\b", text):
            return "up"
        if re.search(r"\b(?:forward|ahead|front)\b", text):
            return "forward"
    match = re.search(r"\b(left|right)(?:ward)?\b", text)
    return match.group(1) if match else None


def _split(sentence: str) -> list[tuple[str | None, str]]:
    """(marker, clause) pieces of a sentence; marker "before"/"after" or None."""
    pieces = []
    for part in re.split(r"\b(before|after)\b(?! that)", sentence):
        part = part.strip()
        if part in ("before", "after"):
            pieces.append([part, ""])
            continue
        chunks = [c for c in re.split(r"\s*,\s*|\b(?:and then|then|and afterwards|afterwards|and finally|finally|first|next|and)\b", part) if c and c.strip()]
        for i, chunk in enumerate(chunks):
            if pieces and pieces[-1][1] == "" and i == 0:
                pieces[-1][1] = chunk.strip()
            else:
                pieces.append([None, chunk.strip()])
    return [(marker, clause) for marker, clause in pieces if clause]


def parse_caption(text: str) -> Program:
    """The program a caption describes, in order (actions it cannot read are left out)."""
    text = text.lower().replace("after that", "then")
    program: list[Action] = []
    for sentence in re.split(r"\.\s*", text):
        actions: list[Action] = []
        held: list[Action] = []  # "before X, Y": X waits for Y
        for marker, clause in _split(sentence):
            action = _parse_clause(clause)
            if action is None:
                continue
            if marker == "before" and not actions:
                held.append(action)
            elif marker == "after" and actions:
                actions.insert(len(actions) - 1, action)
            else:
                actions.append(action)
                actions.extend(held)
                held = []
        program.extend(actions + held)
    return tuple(program)
