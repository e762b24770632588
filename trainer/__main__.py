"""`python -m trainer ...`, the form `torchrun` and `accelerate launch -m trainer` start."""

from trainer.cli import app

app(prog_name="trainer")
