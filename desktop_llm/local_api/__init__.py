"""The local OpenAI-compatible API: other programs use the model running in the app's window."""
