"""Documents: the text out of files the user chose or dropped, safely and within limits."""

from desktop_llm.documents.extract import Document, DocumentError, extract_bytes, extract_file

__all__ = ["Document", "DocumentError", "extract_bytes", "extract_file"]
