"""The synthetic corpus's vocabulary, program sampling, held-out pairs and edits."""

import numpy as np
import pytest

from motionchat.data.synth.edits import EDIT_KINDS, describe_edit, sample_edit
from motionchat.data.synth.program import adjacent_pairs, coverage_actions, held_out_pairs, sample_program
from motionchat.data.synth.vocabulary import (
    ACTIONS,
    SIT,
    Action,
    check_action,
    check_program,
    coverage_items,
    program_from_dicts,
    program_to_dicts,
)


def test_vocabulary_has_the_primitives_the_corpus_promises():
    assert len(ACTIONS) >= 30
    categories = {spec.category for spec in ACTIONS.values()}
    assert categories == {"locomotion", "arms", "legs", "body"}
    for name in ("walk", "walk_backward", "sidestep", "walk_circle", "turn", "jog", "run", "jump", "jump_forward", "hop",
                 "wave", "raise_arms", "clap", "punch", "throw", "reach", "point", "kick", "squat", "lunge", "kneel",
                 "sit_down", "stand_up", "bow", "touch_toes", "twist", "spin", "stretch", "stand_still", "sway", "dance"):
        assert name in ACTIONS


def test_check_action_rejects_bad_parameters():
    check_action(Action("wave", side="left", speed="fast", count=2))
    with pytest.raises(ValueError, match="side"):
        check_action(Action("wave", side="middle", speed="fast", count=2))
    with pytest.raises(ValueError, match="takes no distance"):
        check_action(Action("clap", speed="fast", count=2, distance=3))
    with pytest.raises(ValueError, match="unknown action"):
        check_action(Action("moonwalk"))


def test_programs_chain_postures_and_round_trip_as_dicts():
    rng = np.random.default_rng(0)
    for _ in range(300):
        program = sample_program(rng)
        check_program(program)
        assert 1 <= len(program) <= 3
        assert all(a.name != b.name for a, b in zip(program[:-1], program[1:]))
        assert program_from_dicts(program_to_dicts(program)) == program
    with pytest.raises(ValueError, match="needs the body standing, it is seated"):
        check_program((Action("sit_down", speed="slow"), Action("wave", side="left", speed="slow", count=2)))
    assert ACTIONS["sit_down"].ends == SIT


def test_held_out_pairs_are_deterministic_and_avoidable():
    held = held_out_pairs(7)
    assert held == held_out_pairs(7) and held != held_out_pairs(8)
    assert all(a != b for a, b in held)
    rng = np.random.default_rng(1)
    for _ in range(200):
        assert not adjacent_pairs(sample_program(rng, avoid=held)) & held


def test_coverage_actions_use_every_value():
    covered = {(a.name, "", None) for a in coverage_actions()}
    covered |= {(a.name, p, v) for a in coverage_actions() for p, v in a.params().items()}
    assert covered == set(coverage_items())


def test_edits_change_one_thing_and_invert():
    rng = np.random.default_rng(2)
    kinds = set()
    for _ in range(400):
        program = sample_program(rng)
        edit = sample_edit(program, rng)
        assert edit is not None
        kinds.add(edit.kind)
        check_program(edit.target)
        assert edit.target != edit.source
        back = edit.inverse()
        assert (back.source, back.target) == (edit.target, edit.source)
        if edit.kind in ("speed", "side", "count", "distance"):
            assert len(edit.target) == len(edit.source)
            changed = [i for i, (a, b) in enumerate(zip(edit.source, edit.target)) if a != b]
            assert changed == [edit.index]
            assert getattr(edit.source[edit.index], edit.kind) != getattr(edit.target[edit.index], edit.kind)
        elif edit.kind == "add":
            assert len(edit.target) == len(edit.source) + 1
        elif edit.kind == "remove":
            assert len(edit.target) == len(edit.source) - 1
        for text in describe_edit(edit, rng) + describe_edit(back, rng):
            assert text and "{" not in text and "<" not in text
    assert kinds == set(EDIT_KINDS)
