"""motionchat: an open motion-language model and chat CLI."""

__version__ = "0.1.0"
