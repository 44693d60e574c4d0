"""Desktop LLM: a private, offline desktop app that runs a language model on your own machine."""

__version__ = "0.1.0"
