"""Documents for the tests and benchmarks: made here (PDF, DOCX, a long text), dropped on the
page the way a browser drops them, and summaries waited for."""

from __future__ import annotations

import base64
import io
import re

from tests.support.page import wait_until


def make_pdf(pages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def make_docx(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Keepers", level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Built"
    table.rows[0].cells[1].text = "1848"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


DROP_FILES = """async (files) => {
    const data = new DataTransfer();
    for (const {name, b64, type, repeat} of files) {
        // repeat: a large file made in the page, instead of sent through the driver as base64.
        const bytes = repeat ? new Uint8Array(repeat.size).fill(repeat.byte)
                             : Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        data.items.add(new File([bytes], name, {type}));
    }
    for (const kind of ['dragenter', 'dragover', 'drop'])
        document.body.dispatchEvent(new DragEvent(kind, {dataTransfer: data, bubbles: true}));
}"""


DROP_TEXT = """text => {
    const data = new DataTransfer();
    data.setData('text/plain', text);
    for (const kind of ['dragenter', 'dragover', 'drop'])
        document.body.dispatchEvent(new DragEvent(kind, {dataTransfer: data, bubbles: true}));
}"""


STORY = (
    "The village of Ashford sits beside a slow river. Every spring the river floods the lower "
    "fields, so the farmers built a stone wall in 1902 to hold the water back. The wall worked "
    "for eighty years until a storm in 1983 broke it. Today a new wall of concrete protects the "
    "fields, and the old stones were used to build the village school."
)


def drop_file(page, name: str, data: bytes, mime: str = "application/octet-stream") -> None:
    drop_files(page, [(name, data, mime)])


def drop_files(page, files: list[tuple[str, bytes, str]]) -> None:
    """Drop several files at once, as a user dropping a selection from a file manager."""
    page.evaluate(
        DROP_FILES,
        [{"name": n, "b64": base64.b64encode(d).decode(), "type": t} for n, d, t in files],
    )


def drop_large_file(page, name: str, size: int, byte: int = ord("a")) -> None:
    """Drop a file of `size` copies of one byte, made in the page."""
    page.evaluate(
        DROP_FILES, [{"name": name, "type": "text/plain", "repeat": {"size": size, "byte": byte}}]
    )


def wait_summary(page, timeout: float = 300):
    wait_until(
        page,
        "() => document.querySelector('article[data-kind=summary]')?.dataset.state",
        timeout=timeout,
        interval=0.5,
    )
    bubble = page.locator("article[data-kind=summary]").last
    return bubble.get_attribute("data-state"), bubble.locator(".answer").inner_text()


def long_document(words: int = 20_500) -> str:
    topics = ["river", "school", "market", "bridge", "harvest", "festival", "mill", "library"]
    paragraphs = []
    count = 0
    chapter = 0
    while count < words:
        chapter += 1
        topic = topics[chapter % len(topics)]
        paragraph = (
            f"Chapter {chapter}. In year {1900 + chapter} the people of Ashford worked on the "
            f"{topic}. {STORY} The council recorded {chapter * 3} meetings about the {topic} "
            f"that year, and the {topic} was finished before winter."
        )
        paragraphs.append(paragraph)
        count += len(paragraph.split())
    return "\n\n".join(paragraphs)


RECORD_PROGRESS = """() => {
    window.__progress = new Set();
    window.__progressDetail = new Set();
    new MutationObserver(() => {
        const p = document.querySelector('article[data-kind=summary] .progress');
        if (p) window.__progress.add(p.textContent);
        const detail = document.querySelector('article[data-kind=summary] .progress-detail');
        if (detail) window.__progressDetail.add(detail.textContent);
    }).observe(document.getElementById('messages'),
               {subtree: true, childList: true, characterData: true});
}"""


def repeated_sentences(text: str) -> list[str]:
    """Sentences a summary says more than once (greedy decoding's loops)."""
    seen: set[str] = set()
    repeated = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        key = " ".join(sentence.lower().split())
        if len(key) > 20 and key in seen:
            repeated.append(sentence)
        seen.add(key)
    return repeated
