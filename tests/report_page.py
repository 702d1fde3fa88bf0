"""How a built ``report.html`` lays out in a real browser: page width against the window, and tables whose first
column is a bare row number (pandas' index). Shared by the report's unit tests and the end-to-end test."""
from __future__ import annotations

from pathlib import Path

#: Tables whose body rows start with the cells 0, 1, 2 … (at least two rows): a row number, not data.
INDEX_LIKE_TABLES = """() => [...document.querySelectorAll('table')].filter(t => {
    const rows = [...t.tBodies].flatMap(b => [...b.rows]);
    const first = rows.map(r => r.cells.length ? r.cells[0].textContent.trim() : '');
    return first.length >= 2 && first.every((text, i) => text === String(i));
}).length"""
#: Elements (other than the page itself) that reach past the right edge of the window.
OVERFLOWING = """(width) => [...document.body.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > width + 0.5 && !e.closest('.table-box'))
    .slice(0, 5).map(e => e.tagName + (e.className ? '.' + e.className : ''))"""


def report_layout(report: Path, chromium_path: str, width: int = 1280, height: int = 900) -> dict:
    """Open ``report`` in headless Chromium at ``width`` × ``height`` and measure it: the page's scroll width,
    the window's width, the number of index-like tables and the first elements that stick out (for messages)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(Path(report).resolve().as_uri())
            return {"scroll_width": page.evaluate("document.documentElement.scrollWidth"),
                    "inner_width": page.evaluate("window.innerWidth"),
                    "index_tables": page.evaluate(INDEX_LIKE_TABLES),
                    "overflowing": page.evaluate(OVERFLOWING, width)}
        finally:
            browser.close()
