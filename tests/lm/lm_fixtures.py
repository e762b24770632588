"""Small shared pieces for the tests in tests/lm: a caption corpus and a small random model."""

from itertools import product

from motionchat.lm.model import LMConfig, build_lm

# Small enough that a test builds it in well under a second; same code path as the presets.
SMALL = LMConfig(
    text_vocab_size=300, d_model=64, d_kv=16, d_ff=128, num_heads=4, num_encoder_layers=2, num_decoder_layers=2
)
CODEBOOK = 32


def captions() -> list[str]:
    subjects = ["a person", "the man", "someone", "a woman"]
    actions = ["walks forward", "jumps twice", "waves with the left hand", "kicks with the right foot", "turns around"]
    endings = ["slowly", "and then stops", "while running in a circle", ""]
    return [f"{s} {a} {e}".strip() for s, a, e in product(subjects, actions, endings)]


def small_lm(seed: int = 0):
    return build_lm(SMALL, CODEBOOK, captions(), seed=seed)
