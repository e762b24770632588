"""`python -m eval ...`, the same as `motionchat-eval ...`."""

from eval.cli import app

app(prog_name="motionchat-eval")
