"""The evaluator and action recogniser shipped for the synthetic corpus (`trainer data synth`).

Both were trained on the 20,000-clip corpus of seed 0 with the commands in their config.json
(`motionchat-eval train-evaluator` / `train-recognizer`, tiny preset, seed 0); their reports hold
their scores on that corpus's test split. `motionchat-eval` uses them on any synthetic corpus
when --evaluator / --recognizer are not given (eval/README.md says how robust they are to the
corpus seed).
"""

from pathlib import Path

ASSETS = Path(__file__).resolve().parent
SHIPPED_EVALUATOR = ASSETS / "evaluator"
SHIPPED_RECOGNIZER = ASSETS / "recognizer"
