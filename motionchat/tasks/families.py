"""The task families, loaded from one JSON file per family and checked on the way in.

The files ship as `motionchat.templates` package data; a trained bundle carries a snapshot of
them in its own `templates/` folder, which `load_families(path)` reads the same way.

File schema (`<family>.json`):

    {
      "family": "t2m_length",               # must equal the file name
      "description": "...",                 # what the slots hold and what the answer is
      "output": "motion" | "text",          # what the model answers with
      "slots": {"required": [...], "optional": [...]},   # slots of the instructions
      "instructions": ["...", ...],         # distinct templates
      "answer_slots": {...},                # text families only: slots of the answers
      "answers": ["...", ...]               # text families only: answer templates
    }

A required entry is a slot name ("caption") that every template must use, or a group of
alternatives: {"one_of": ["frames", "seconds"]} (each template uses exactly one) or
{"any_of": [...]} (each uses at least one). Every alternative must be used by some template.
Optional slots may appear; any other slot is an error. Motion families carry no answers: their
answer is motion tokens.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from motionchat.errors import MotionchatError
from motionchat.tasks.templates import SLOTS, Template

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

OUTPUT_TYPES = ("motion", "text")
GROUP_MODES = ("one_of", "any_of")
_REQUIRED_KEYS = {"family", "description", "output", "slots", "instructions"}
_ANSWER_KEYS = {"answer_slots", "answers"}
_OPTIONAL_KEYS = {"tag"}


@dataclass(frozen=True)
class SlotRule:
    """One required entry: alternatives of which exactly one (`one_of`) or at least one (`any_of`) is used."""

    names: tuple[str, ...]
    mode: Literal["one_of", "any_of"] = "one_of"

    def __str__(self) -> str:
        if len(self.names) == 1:
            return f"{{{self.names[0]}}}"
        return self.mode.replace("_", " ") + " " + "|".join(f"{{{n}}}" for n in self.names)

    def problem(self, used: frozenset[str]) -> str | None:
        count = len(used.intersection(self.names))
        if count == 0:
            return f"missing required slot {self}"
        if self.mode == "one_of" and count > 1:
            return f"uses more than one of {'|'.join(self.names)}"
        return None


@dataclass(frozen=True)
class SlotSpec:
    required: tuple[SlotRule, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(self.optional).union(*(rule.names for rule in self.required))

    def __str__(self) -> str:
        return ", ".join(str(rule) for rule in self.required) or "no slots"

    def problem(self, template: Template) -> str | None:
        """Why `template` does not fit this spec, or None."""
        extra = sorted(template.slots - self.allowed)
        if extra:
            return f"uses slot {{{extra[0]}}}, which this family does not declare"
        for rule in self.required:
            problem = rule.problem(template.slots)
            if problem:
                return problem
        return None


@dataclass(frozen=True)
class Family:
    """One task family; motion families have empty `answer_slots` and `answers`."""

    id: str
    description: str
    output: Literal["motion", "text"]
    slots: SlotSpec
    instructions: tuple[Template, ...]
    answer_slots: SlotSpec = SlotSpec()
    answers: tuple[Template, ...] = ()
    tag: str = ""  # begins every prompt of the family when set: the task named outright (T5's task prefixes)


def load_families(path: str | Path | None = None) -> dict[str, Family]:
    """Read and check every `*.json` family file in `path` (default: the installed templates)."""
    if path is None:
        folder: Traversable = resources.files("motionchat.templates")
    else:
        folder = Path(path)
        if not folder.is_dir():
            raise MotionchatError(
                f"{folder}: not a templates folder; point at the folder of family .json files"
            )
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    if not files:
        raise MotionchatError(f"{folder}: no family .json files found; point at a templates folder")
    families = {}
    for file in files:
        family = _load_family(file)
        families[family.id] = family
    return families


@functools.cache
def default_families() -> MappingProxyType[str, Family]:
    """The installed families, read once."""
    return MappingProxyType(load_families())


def get_family(family_id: str, families: Mapping[str, Family] | None = None) -> Family:
    """The family called `family_id` (from the installed ones unless `families` is given)."""
    families = default_families() if families is None else families
    try:
        return families[family_id]
    except KeyError:
        raise MotionchatError(
            f"unknown task family {family_id!r}; known: {', '.join(sorted(families))}"
        ) from None


def _load_family(file: Traversable) -> Family:
    def fail(problem: str) -> MotionchatError:
        return MotionchatError(f"{file}: {problem}; fix the family file")

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise fail(f"not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise fail("the file must hold one JSON object")
    missing = sorted(_REQUIRED_KEYS - data.keys())
    if missing:
        raise fail(f"missing key {missing[0]!r}")
    unknown = sorted(data.keys() - _REQUIRED_KEYS - _ANSWER_KEYS - _OPTIONAL_KEYS)
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}")

    family_id = data["family"]
    stem = file.name.removesuffix(".json")
    if family_id != stem:
        raise fail(f"family {family_id!r} does not match the file name {stem!r}")
    if not isinstance(data["description"], str) or not data["description"].strip():
        raise fail("'description' must be non-empty text")
    output = data["output"]
    if output not in OUTPUT_TYPES:
        raise fail(f"output {output!r} is not one of {', '.join(OUTPUT_TYPES)}")

    tag = data.get("tag", "")
    if not isinstance(tag, str) or tag != tag.strip() or "{" in tag or "}" in tag:
        raise fail("'tag' must be text without surrounding spaces or braces")
    slots = _slot_spec(data["slots"], "slots", fail)
    instructions = _templates(data["instructions"], "instructions", slots, fail)
    if output == "text":
        missing = sorted(_ANSWER_KEYS - data.keys())
        if missing:
            raise fail(f"a text family needs {missing[0]!r}")
        answer_slots = _slot_spec(data["answer_slots"], "answer_slots", fail)
        answers = _templates(data["answers"], "answers", answer_slots, fail)
    else:
        present = sorted(_ANSWER_KEYS & data.keys())
        if present:
            raise fail(f"a motion family answers with motion tokens and takes no {present[0]!r}")
        answer_slots, answers = SlotSpec(), ()
    return Family(
        id=family_id,
        description=data["description"],
        output=output,
        slots=slots,
        instructions=instructions,
        answer_slots=answer_slots,
        answers=answers,
        tag=tag,
    )


def _slot_spec(raw, key: str, fail) -> SlotSpec:
    if not isinstance(raw, dict) or set(raw) != {"required", "optional"}:
        raise fail(f"{key!r} must be an object with exactly 'required' and 'optional' lists")
    required, optional = raw["required"], raw["optional"]
    if not isinstance(required, list) or not isinstance(optional, list):
        raise fail(f"{key!r}: 'required' and 'optional' must be lists")
    rules = []
    for entry in required:
        if isinstance(entry, str):
            rules.append(SlotRule((entry,)))
        elif isinstance(entry, dict) and len(entry) == 1 and next(iter(entry)) in GROUP_MODES:
            mode, names = next(iter(entry.items()))
            if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
                raise fail(f"{key!r}: {mode} needs a list of at least two slot names")
            rules.append(SlotRule(tuple(names), mode))
        else:
            raise fail(f"{key!r}: required entry {entry!r} is neither a slot name nor a one_of/any_of group")
    if not all(isinstance(n, str) for n in optional):
        raise fail(f"{key!r}: 'optional' must list slot names")
    declared = [n for rule in rules for n in rule.names] + optional
    for name in declared:
        if name not in SLOTS:
            raise fail(f"{key!r}: unknown slot {name!r} (known: {', '.join(sorted(SLOTS))})")
    repeated = sorted({n for n in declared if declared.count(n) > 1})
    if repeated:
        raise fail(f"{key!r}: slot {repeated[0]!r} is declared twice")
    return SlotSpec(tuple(rules), tuple(optional))


def _templates(raw, key: str, spec: SlotSpec, fail) -> tuple[Template, ...]:
    if not isinstance(raw, list) or not raw:
        raise fail(f"{key!r} must be a non-empty list of templates")
    templates, seen = [], {}
    for text in raw:
        if not isinstance(text, str) or not text.strip():
            raise fail(f"{key!r}: {text!r} is not a non-empty text template")
        if text != text.strip():
            raise fail(f"{key!r}: template {text!r} starts or ends with spaces")
        try:
            template = Template.parse(text)
        except MotionchatError as err:
            raise fail(f"{key!r}: template {text!r}: {err}") from None
        problem = spec.problem(template)
        if problem:
            raise fail(f"{key!r}: template {text!r} {problem}")
        normalised = " ".join(text.split()).casefold()
        if normalised in seen:
            raise fail(f"{key!r}: template {text!r} repeats {seen[normalised]!r}")
        seen[normalised] = text
        templates.append(template)
    for rule in spec.required:
        for name in rule.names:
            if not any(name in t.slots for t in templates):
                raise fail(f"{key!r}: no template uses {{{name}}} (required: {rule})")
    return tuple(templates)
