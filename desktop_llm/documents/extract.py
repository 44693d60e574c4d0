"""Text out of .txt .md .html .htm .pdf .docx, with limits on bytes, pages and time.

Every failure is a `DocumentError` whose message is one sentence a user can act on.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MAX_BYTES = 50 * 1024 * 1024
MAX_PAGES = 2000
MAX_SECONDS = 60.0
MAX_CHARS = 3_000_000  # about half a million words

_PREFERRED_LEGACY = ("cp1252", "latin_1", "iso8859_15")
SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")


class DocumentError(ValueError):
    """A file that cannot become text; the message says why in one sentence."""


@dataclass
class Document:
    name: str
    kind: str  # "text", "markdown", "html", "pdf", "docx"
    text: str
    pages: int | None = None
    encoding: str | None = None

    @property
    def words(self) -> int:
        return len(self.text.split())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["words"] = self.words
        data["chars"] = len(self.text)
        data["estimated_tokens"] = max(1, round(len(self.text) / 4))
        return data


def extract_file(path: Path) -> Document:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"“{path.name}” cannot be opened: {exc.strerror}.") from exc
    check_size(path.name, size)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"“{path.name}” cannot be read: {exc.strerror}.") from exc
    return extract_bytes(path.name, data)


def extract_bytes(name: str, data: bytes) -> Document:
    check_size(name, len(data))
    if not data.strip():
        raise DocumentError(f"“{name}” is empty.")
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED:
        raise DocumentError(
            f"“{name}” is not a document type I can read; use .txt, .md, .html, .pdf or .docx."
        )
    if suffix == ".pdf":
        document = _pdf(name, data)
    elif suffix == ".docx":
        document = _docx(name, data)
    elif suffix in (".html", ".htm"):
        text, encoding = _decode(name, data)
        document = Document(name, "html", _html_text(text), encoding=encoding)
    else:
        text, encoding = _decode(name, data)
        kind = "text" if suffix == ".txt" else "markdown"
        document = Document(name, kind, _tidy(text), encoding=encoding)
    if not document.text.strip():
        raise DocumentError(f"“{name}” has no text in it (a scanned PDF needs OCR first).")
    if len(document.text) > MAX_CHARS:
        raise DocumentError(
            f"“{name}” holds {len(document.text):,} characters; the limit is {MAX_CHARS:,}."
        )
    return document


def check_size(name: str, size: int) -> None:
    if size > MAX_BYTES:
        raise DocumentError(
            f"“{name}” is {size / 1e6:.1f} MB; documents up to {MAX_BYTES // 2**20} MB can be read."
        )


def _decode(name: str, data: bytes) -> tuple[str, str]:
    """Detect the encoding (BOMs first, then charset-normalizer); refuse binary files."""
    for bom, encoding in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding), encoding.replace("-sig", "")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise DocumentError(f"“{name}” is not text (it looks like a binary file).")
    # Legacy code pages often tie on text in Western languages; the most common one wins.
    best_score = min((m.chaos, -m.coherence) for m in matches)
    tied = [m for m in matches if (m.chaos, -m.coherence) == best_score]
    best = next((m for m in tied if m.encoding in _PREFERRED_LEGACY), tied[0])
    text = str(best)
    if "\x00" in text:
        raise DocumentError(f"“{name}” is not text (it looks like a binary file).")
    return text, best.encoding


def _html_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "iframe", "svg", "head", "nav"]):
        tag.decompose()
    blocks = soup.find_all(
        ["p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "td", "blockquote"]
    )
    if blocks:
        text = "\n\n".join(
            b.get_text(" ", strip=True) for b in blocks if not b.find(blocks[0].name)
        )
    else:
        text = soup.get_text("\n", strip=True)
    return _tidy(text)


def _pdf(name: str, data: bytes) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    started = time.monotonic()
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise DocumentError(_password_protected(name))
            except (NotImplementedError, PdfReadError) as exc:
                raise DocumentError(_password_protected(name)) from exc
        pages = len(reader.pages)
        if pages > MAX_PAGES:
            raise DocumentError(f"“{name}” has {pages:,} pages; the limit is {MAX_PAGES:,}.")
        texts = []
        for number, page in enumerate(reader.pages, start=1):
            if time.monotonic() - started > MAX_SECONDS:
                raise DocumentError(
                    f"Reading “{name}” took over {MAX_SECONDS:.0f} s (stopped at page {number})."
                )
            texts.append(page.extract_text() or "")
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise DocumentError(f"“{name}” is not a readable PDF (it may be damaged).") from exc
    return Document(name, "pdf", _tidy("\n\n".join(texts)), pages=pages)


def _password_protected(name: str) -> str:
    return f"“{name}” is protected by a password; save an unprotected copy and try again."


def _docx(name: str, data: bytes) -> Document:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zip, XML and key errors on damaged files
        raise DocumentError(
            f"“{name}” is not a readable Word document (it may be damaged)."
        ) from exc
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return Document(name, "docx", _tidy("\n\n".join(parts)))


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
