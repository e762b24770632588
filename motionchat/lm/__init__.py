"""The language model: joint text + motion vocabulary, T5 backbone, constrained generation, storage."""

from motionchat.lm.answers import Answer
from motionchat.lm.generation import DecodingConfig, generate
from motionchat.lm.model import TINY, LanguageModel, LMConfig, base_preset, build_lm, build_model
from motionchat.lm.storage import load_lm, save_lm
from motionchat.lm.vocab import VocabLayout, add_joint_tokens, motion_tokens_to_text, text_to_motion_codes

__all__ = [
    "TINY",
    "Answer",
    "DecodingConfig",
    "LMConfig",
    "LanguageModel",
    "VocabLayout",
    "add_joint_tokens",
    "base_preset",
    "build_lm",
    "build_model",
    "generate",
    "load_lm",
    "motion_tokens_to_text",
    "save_lm",
    "text_to_motion_codes",
]
