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


# --- issue 17: free-form wording --------------------------------------------------------------------


def test_fill_in_the_motion_between_two_motions_is_inbetween():
    request = route("fill in the motion between m1 and m2")
    assert request.family == "inbetween" and request.motions == ["m1", "m2"]


@pytest.mark.parametrize(
    "text,parts",
    [
        ("first walk forward, then sit down", ["walk forward", "sit down"]),
        ("walk forward and then wave", ["walk forward", "wave"]),
        ("jump, after that turn around", ["jump", "turn around"]),
        ("squat followed by a jump", ["squat", "a jump"]),
        ("wave before sitting down", ["wave", "sitting down"]),
        ("sit down after waving", ["waving", "sit down"]),
        ("after waving, sit down", ["waving", "sit down"]),
        ("first jump, then turn around, and finally walk away", ["jump", "turn around", "walk away"]),
    ],
)
def test_unquoted_parts_in_order_are_composed(text, parts):
    request = route(text)
    assert request.family == "compose" and request.captions == parts


def test_a_described_person_doing_two_things_stays_one_caption_and_says_how_to_chain():
    request = route("a person waves with the right hand, then jumps twice")
    assert request.family == "t2m" and "first <action>, then <action>" in request.note


def test_how_long_would_it_take_a_person_is_about_a_description():
    request = route("how long would it take a person to jump three times?")
    assert request.family == "t2length" and request.motions == [] and request.caption == "jump three times"


@pytest.mark.parametrize("text,unit", [("how many seconds does jumping three times take?", "seconds"),
                                       ("how many frames would a bow need?", "frames"),
                                       ("how long is m1 in seconds?", "seconds"),
                                       ("how long does a bow take?", None)])  # fmt: skip
def test_the_unit_asked_for_is_kept(text, unit):
    assert route(text).unit == unit


def test_describe_and_say_how_long_is_m2t_length():
    request = route("describe m14 and say how long it is")
    assert request.family == "m2t_length" and request.motions == ["m14"]


def test_a_motion_name_inside_a_path_is_part_of_the_path():
    request = route("how is runout/line003-m2.npy different from clip.npy?")
    assert request.family == "diff" and request.motions == ["runout/line003-m2.npy", "clip.npy"]


@pytest.mark.parametrize("text,needle", [("a person walks for -3 seconds", "negative"),
                                         ("a person walks for minus 3 seconds", "negative"),
                                         ("a person walks for 0.1 seconds", "minimum of 40 frames"),
                                         ("a man jumps for 10 frames", "minimum of 40 frames")])  # fmt: skip
def test_negative_and_too_short_durations_are_refused_in_one_line(text, needle):
    with pytest.raises(MotionchatError, match=needle) as err:
        route(text)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text,ref", [("describe this clip: runs/jump.npy", "runs/jump.npy"),
                                      ("describe this motion: m1", "m1"), ("what is it doing, m3?", "m3")])  # fmt: skip
def test_an_explicit_motion_wins_over_this_and_it(text, ref):
    assert route(text).motions == [ref]


@pytest.mark.parametrize("text,family", [("what would the person in m1 do next?", "predict"),
                                         ("complete the missing part of m1", "inbetween"),
                                         ("change what the person does in m1 to waving", "edit")])  # fmt: skip
def test_motion_requests_route_by_meaning(text, family):
    assert route(text).family == family


def test_a_motion_request_that_fits_nothing_is_refused_with_the_closest_families():
    with pytest.raises(UnknownRequest, match="understood motion m1 but not what to do with it") as err:
        route("tell me a joke about m1")
    assert "Closest I can do:" in str(err.value) and "'describe m1'" in str(err.value)


@pytest.mark.parametrize("text", ["any motion", "whatever you like", "something random", "surprise me!",
                                  "show me anything", "Random!"])  # fmt: skip
def test_generic_requests_are_random_motion(text):
    assert route(text).family == "random_motion"


@pytest.mark.parametrize("adverb", ["exactly", "about", "roughly", "at most", "around", "approximately", "at least"])
def test_adverbs_on_durations_keep_the_duration(adverb):
    request = route(f"a person walks for {adverb} 3 seconds")
    assert request.family == "t2m_length" and request.frames == 60 and request.caption == "a person walks"


@pytest.mark.parametrize("text,frames", [("a man jumps for three seconds", 60), ("a man jumps for two and a half seconds", 50),
                                         ("a man jumps for 0.1 minutes", 120), ("a man jumps for 4 sec", 80),
                                         ("a man jumps for 7s", 140), ("a man jumps for 3500 ms", 70),
                                         ("a man jumps for 3 secnds", 60), ("a 5-second clip of a man jumping", 100)])  # fmt: skip
def test_durations_in_words_and_units(text, frames):
    assert route(text).frames == frames


@pytest.mark.parametrize("text,caption", [("I need an animation of a man jumping", "a man jumping"),
                                          ("show me a woman waving", "a woman waving"),
                                          ("could you please animate a person bowing? thanks!", "a person bowing"),
                                          ("hey, can u show me a dude doing jumping jacks", "a dude doing jumping jacks"),
                                          ("give me two seconds of someone dancing", "someone dancing")])  # fmt: skip
def test_request_words_do_not_reach_the_caption(text, caption):
    assert route(text).caption == caption


def test_typos_in_request_words_are_corrected_and_said():
    request = route("descibe m1")
    assert request.family == "m2t" and "'descibe' as 'describe'" in request.note


def test_a_relative_that_or_it_in_a_description_is_not_a_reference():
    assert route("a person jumps and then does it again").family == "t2m"
    assert route("make me a motion that's 5 seconds long").family == "length2m"


def test_edit_keeps_its_amount():
    assert route("make it 2 seconds longer").edit == "2 seconds longer"


def test_the_same_motion_named_twice_is_compared_with_itself():
    assert route("how is m1 different from m1?").motions == ["m1", "m1"]


def test_when_unsure_the_note_says_how_to_ask_for_the_other_family():
    assert "'how long is it?'" in route("how long would it take a person to jump three times?").note
    assert "name both" in route("complete the missing part of m1").note
    assert route("how long is it?").family == "m2length"


def test_several_durations_in_a_description_add_up_and_say_so():
    request = route("a person walks for 3 seconds and then runs for 2 seconds")
    assert request.family == "t2m_length" and request.frames == 100 and request.caption == "a person walks and then runs"
    assert "100 frames (5.0 s) in all (3 seconds + 2 seconds)" in request.note
    with pytest.raises(MotionchatError, match="longer than the model can make"):
        route("a person walks for 6 seconds and then runs for 5 seconds")


@pytest.mark.parametrize("text,family,motions", [
    ("now make him wave with the left hand instead", "edit", [LAST]),
    ("is m1 faster than m2?", "diff", ["m1", "m2"]),
    ("what's the difference?", "diff", [PREVIOUS, LAST]),
    ("compare them", "diff", [PREVIOUS, LAST]),
    ("connect them", "inbetween", [PREVIOUS, LAST]),
    ("how long does the last motion take", "m2length", [LAST]),
])  # fmt: skip
def test_follow_ups_in_a_session(text, family, motions):
    request = route(text)
    assert (request.family, request.motions) == (family, motions)


def test_a_duration_on_a_continuation_is_said_to_be_unused():
    assert "was not used" in route("continue m1 for 3 seconds").note


def test_a_unit_conversion_question_is_answered_in_the_refusal():
    with pytest.raises(UnknownRequest, match="that is 60 frames"):
        route("how many frames is 3 seconds?")


def test_i_want_to_see_is_a_request_word():
    assert route("I want to see a person bowing").caption == "a person bowing"


@pytest.mark.parametrize("text,edit", [("make the person in m1 wave instead", "wave instead"),
                                       ("can you make the person jump higher in m2", "jump higher"),
                                       ("change what the person does in m1 to waving", "waving instead")])  # fmt: skip
def test_the_edit_the_model_gets_is_the_change_alone(text, edit):
    assert route(text).edit == edit
