"""`python -m eval ...`, the same as `motionchat-eval ...`."""

from eval.cli import app

if __name__ == "__main__":  # worker processes import this module without running it
    app(prog_name="motionchat-eval")
