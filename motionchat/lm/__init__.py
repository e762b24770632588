"""The language model: joint text + motion vocabulary, T5 backbone, constrained generation, storage.

The names below are imported on first use, not with the package: `model`, `storage.save_lm` and
`storage.load_lm` bring in transformers (seconds of start-up), which answering does not need.
"""

import importlib

_HOMES = {
    "Answer": "answers",
    "DecodingConfig": "generation",
    "generate": "generation",
    "TINY": "model",
    "LMConfig": "model",
    "base_preset": "model",
    "build_lm": "model",
    "build_model": "model",
    "LanguageModel": "runtime",
    "load_runtime_lm": "runtime",
    "load_lm": "storage",
    "save_lm": "storage",
    "VocabLayout": "vocab",
    "add_joint_tokens": "vocab",
    "motion_tokens_to_text": "vocab",
    "text_to_motion_codes": "vocab",
}
__all__ = list(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
