"""motionchat: an open motion-language model and chat CLI."""

from motionchat.threads import prefer_passive_waiting

__version__ = "0.1.0"

prefer_passive_waiting()  # before torch loads, if it has not yet (see motionchat/threads.py)
