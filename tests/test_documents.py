"""Extraction: fixture files generated here, each type to the text a reader would expect."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from desktop_llm.documents import DocumentError, extract_bytes, extract_file
from desktop_llm.documents import extract as extract_module
from tests.support.documents import make_docx, make_pdf

PARAGRAPHS = [
    "Lighthouses guided ships along dangerous coasts for centuries.",
    "Their keepers trimmed the wicks and polished the lenses every night.",
]


def test_pdf(tmp_path: Path):
    path = tmp_path / "lighthouses.pdf"
    path.write_bytes(make_pdf(PARAGRAPHS))
    document = extract_file(path)
    assert document.kind == "pdf" and document.pages == 2
    for paragraph in PARAGRAPHS:
        assert " ".join(paragraph.split()) in " ".join(document.text.split())


def test_docx_with_table():
    document = extract_bytes("keepers.docx", make_docx(PARAGRAPHS))
    assert document.text.startswith("Keepers")
    assert all(p in document.text for p in PARAGRAPHS)
    assert "Built | 1848" in document.text


def test_html_keeps_the_text_and_drops_script_and_style():
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<nav>Home | About</nav><h1>Lighthouses</h1>"
        f"<p>{PARAGRAPHS[0]}</p><script>alert('x')</script><ul><li>{PARAGRAPHS[1]}</li></ul>"
        "</body></html>"
    )
    document = extract_bytes("page.html", html.encode())
    assert document.text == f"Lighthouses\n\n{PARAGRAPHS[0]}\n\n{PARAGRAPHS[1]}"


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-8", b""), ("utf-16", b""), ("latin-1", b""), ("utf-8", b"\xef\xbb\xbf")],
)
def test_text_encodings_are_detected(encoding: str, bom: bytes):
    text = "Café au lait, crème brûlée et garçon: señor Müller zahlt 12 €.".replace(
        " €", "" if encoding == "latin-1" else " €"
    )
    text = (text + "\n") * 20
    document = extract_bytes("notes.txt", bom + text.encode(encoding))
    assert document.text == text.strip()


def test_markdown_is_read_as_text():
    document = extract_bytes("readme.md", b"# Title\n\n- one\n- two\n")
    assert document.kind == "markdown" and document.text == "# Title\n\n- one\n- two"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "is empty"),
        ("blank.txt", b"  \n\n ", "is empty"),
        ("broken.pdf", b"%PDF-1.7\n this is not really a pdf", "not a readable PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", "not a readable Word document"),
        ("program.exe", b"MZ\x90\x00", "not a document type"),
        ("image.txt", bytes(range(256)) * 40, "not text"),
    ],
)
def test_bad_files_get_one_clear_sentence(name: str, data: bytes, message: str):
    with pytest.raises(DocumentError) as refused:
        extract_bytes(name, data)
    assert message in str(refused.value)
    assert name in str(refused.value)


def test_password_protected_pdf():
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf(PARAGRAPHS))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(DocumentError, match="password"):
        extract_bytes("locked.pdf", out.getvalue())


def test_over_the_size_limit(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(extract_module, "MAX_BYTES", 1000)
    path = tmp_path / "big.txt"
    path.write_text("word " * 500)
    with pytest.raises(DocumentError, match="MB; documents up to"):
        extract_file(path)


def test_too_many_pages(monkeypatch):
    monkeypatch.setattr(extract_module, "MAX_PAGES", 2)
    with pytest.raises(DocumentError, match="has 3 pages; the limit is 2"):
        extract_bytes("long.pdf", make_pdf(["a", "b", "c"]))


def test_a_pdf_of_scanned_images_says_it_has_no_text():
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 50, 50, style="F")
    with pytest.raises(DocumentError, match="no text"):
        extract_bytes("scan.pdf", bytes(pdf.output()))
