"""Model answers render as Markdown, and nothing in an answer can run script.

The model cannot be made to say these payloads, so the app's own renderer (ui/src/markdown.js,
built alone) is loaded into the real app page, under the app's real Content-Security-Policy, and
fed them, whole and streamed piece by piece as the chat does."""

from __future__ import annotations

import pytest

PAYLOADS = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=1</script>",
    "[click me](javascript:window.__pwned=1)",
    "[click me](JaVaScRiPt:window.__pwned=1)",
    '<a href="javascript:window.__pwned=1">x</a>',
    '<iframe src="javascript:window.__pwned=1"></iframe>',
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
    '<svg onload="window.__pwned=1"><circle r=5 /></svg>',
    '<div onmouseover="window.__pwned=1" style="width:100%;height:100%">hover</div>',
    '<details open ontoggle="window.__pwned=1">x</details>',
    '![x](x" onerror="window.__pwned=1)',
    '<form action="javascript:window.__pwned=1"><button>go</button></form>',
    '<object data="javascript:window.__pwned=1"></object>',
    '<a href="data:text/html,<script>alert(1)</script>">data link</a>',
    "```html\n<script>window.__pwned=1</script>\n```",
]

RENDER_ALL = """payloads => {
    const box = document.createElement('div');
    box.id = 'under-test';
    document.body.append(box);
    for (const p of payloads) {
        const whole = document.createElement('div');
        whole.innerHTML = MarkdownUnderTest.renderMarkdown(p);
        box.append(whole);
        const streamed = document.createElement('div');
        box.append(streamed);
        const view = new MarkdownUnderTest.StreamingMarkdown(streamed);
        for (const ch of p) view.append(ch);
        view.finish();
    }
    for (const el of box.querySelectorAll('*')) {  // a user moving the mouse and clicking
        for (const type of ['mouseover', 'click', 'toggle', 'load', 'error'])
            el.dispatchEvent(new Event(type));
    }
    return box.innerHTML;
}"""


@pytest.fixture
def page_with_renderer(launcher, playwright_driver, markdown_under_test, tmp_path):
    from tests.support.page import open_app_page

    page, context = open_app_page(playwright_driver, launcher, tmp_path / "profile")
    script = markdown_under_test.read_text() + "\nwindow.MarkdownUnderTest = MarkdownUnderTest;"
    context.add_init_script(script=script)
    page.reload()
    yield page
    context.close()


INSPECT = """() => {
    const box = document.getElementById('under-test');
    const elements = [...box.querySelectorAll('*')];
    return {
        tags: [...new Set(elements.map(e => e.tagName.toLowerCase()))],
        handlers: elements.flatMap(e => [...e.attributes].map(a => a.name))
            .filter(n => n.startsWith('on')),
        urls: elements.flatMap(e => ['href', 'src', 'action', 'data', 'srcdoc', 'formaction']
            .map(n => e.getAttribute(n)).filter(Boolean)),
        code: [...box.querySelectorAll('pre code')].map(c => c.textContent),
    };
}"""


def test_payloads_render_inert(page_with_renderer):
    page = page_with_renderer
    page.evaluate(RENDER_ALL, PAYLOADS)
    page.wait_for_timeout(500)  # give any image error or frame load time to fire
    assert page.evaluate("window.__pwned") is None
    found = page.evaluate(INSPECT)
    dangerous = {"script", "iframe", "svg", "object", "embed", "form", "img", "style", "math"}
    assert not dangerous & set(found["tags"]), found["tags"]
    assert found["handlers"] == []
    assert all(url.startswith(("http:", "https:", "mailto:", "#", "x")) for url in found["urls"]), (
        found
    )
    # The code block shows the script as text, for the user to read.
    assert any("<script>window.__pwned=1</script>" in c for c in found["code"])


def test_markdown_renders_lists_and_code(page_with_renderer):
    page = page_with_renderer
    html = page.evaluate(
        "md => MarkdownUnderTest.renderMarkdown(md)",
        "# Title\n\n- one\n- two\n\n1. first\n2. second\n\n```python\nprint('hi')\n```\n\n**bold**",
    )
    assert "<h1>Title</h1>" in html
    assert html.count("<li>") == 4
    assert "<pre><code" in html and "print('hi')" in html.replace("&#39;", "'")
    assert "<strong>bold</strong>" in html


def test_streamed_rendering_equals_whole_rendering(page_with_renderer):
    page = page_with_renderer
    text = (
        "Intro paragraph.\n\n- a\n- b\n\n```js\nconst x = 1;\n\nconst y = 2;\n```\n\n"
        "Closing *words* with `code`.\n"
    )
    same = page.evaluate(
        """md => {
            const whole = document.createElement('div');
            whole.innerHTML = MarkdownUnderTest.renderMarkdown(md);
            const streamed = document.createElement('div');
            const view = new MarkdownUnderTest.StreamingMarkdown(streamed);
            for (let i = 0; i < md.length; i += 3) {
                view.append(md.slice(i, i + 3));
                view.flush();
            }
            view.finish();
            return [whole.innerText.replace(/\\s+/g, ' ').trim(),
                    streamed.innerText.replace(/\\s+/g, ' ').trim()];
        }""",
        text,
    )
    assert same[0] == same[1]
