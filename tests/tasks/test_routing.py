import pytest

from motionchat.errors import MotionchatError
from motionchat.tasks.routing import LAST, PREVIOUS, UnknownRequest, route

ONE_SENTENCE_PER_FAMILY = [
    ("a person waves with the right hand, then jumps twice", "t2m"),
    ("generate someone walking forward for 3 seconds", "t2m_length"),
    ("show me a 4 second motion", "length2m"),
    ("surprise me with a random motion", "random_motion"),
    ("caption clip.npy", "m2t"),
    ("describe the first 60 frames of m2", "m2t_length"),
    ("how long is m1?", "m2length"),
    ("how long would it take to walk in a circle?", "t2length"),
    ("what could someone do in 2.5 s?", "length2t"),
    ("give me a random caption", "random_caption"),
    ("what comes next?", "predict"),
    ("fill the gap between m1 and m2", "inbetween"),
    ('first "walk forward", then "wave with both hands"', "compose"),
    ("make it slower", "edit"),
    ("how is m2 different from m1?", "diff"),
]


@pytest.mark.parametrize("text,family", ONE_SENTENCE_PER_FAMILY)
def test_each_family_is_reachable(text, family):
    assert route(text).family == family


def test_values_are_extracted():
    request = route("generate someone walking forward for 3 seconds")
    assert request.frames == 60 and request.caption == "someone walking forward"
    assert route("a man jumps for 2.5 s").frames == 50
    assert route("describe the first 60 frames of m2").motions == ["m2"]
    assert route('first "walk forward", then "wave"').captions == ["walk forward", "wave"]
    assert route("add a jump at the end of m3").edit == "add a jump at the end"


def test_references_resolve_in_order():
    assert route("how is m2 different from m1?").motions == ["m2", "m1"]
    assert route("compare it with the previous one").motions == [LAST, PREVIOUS]
    assert route("now describe it").motions == [LAST]
    assert route('describe "my clips/jump 1.bvh"').motions == ["my clips/jump 1.bvh"]


def test_relative_clauses_are_not_references():
    assert route("make a random motion that lasts 60 frames").family == "length2m"


@pytest.mark.parametrize("text", ["", "   ", "what is the weather like"])
def test_unknown_requests_list_what_can_be_asked(text):
    with pytest.raises(UnknownRequest, match="I can:"):
        route(text)


def test_huge_durations_are_refused_in_one_line():
    with pytest.raises(MotionchatError, match="9.8 s") as err:
        route("generate 300 seconds of walking")
    assert "\n" not in str(err.value)
