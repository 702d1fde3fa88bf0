"""HTML of the report: one self-contained page (inline style, figures as data URIs, no script, nothing fetched).

Only markup lives here: what goes on the page is decided in :mod:`xai_helpers.reporting.report`, the tables'
cells in :mod:`xai_helpers.reporting.report_tables`, the summary's sentences in
:mod:`xai_helpers.reporting.report_findings`. Layout rules that keep the page as wide as the window at 1,280 px:
the body has a maximum width, every table sits in a box that scrolls sideways on its own when it cannot fit,
long text wraps, and images shrink to the column.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

from .report_findings import Finding
from .report_tables import DisplayTable

STYLE = """*,*::before,*::after{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;line-height:1.45;color:#222;max-width:1180px;
margin:0 auto;padding:1.5em 1.25em 4em;overflow-wrap:break-word}
h1{margin:.2em 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2.2em}h3{margin-top:1.6em}
h4{margin:1em 0 .2em;font-size:14px;color:#444}
.run{color:#444;margin-top:0}code{overflow-wrap:anywhere}
.summary{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:6px;padding:.6em 1.4em .8em}
.summary h2{border:0;margin-top:.4em}.summary li{margin:.35em 0}.summary a{font-size:12px}
nav.toc ol{columns:2;column-gap:3em;margin:.3em 0}nav.toc li{break-inside:avoid}
.table-box{max-width:100%;overflow-x:auto;margin:.4em 0 .2em}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #d4d4d4;padding:3px 7px;vertical-align:top;text-align:left}
thead th{background:#f0f2f4;font-weight:600;vertical-align:bottom}
tbody th{font-weight:normal;background:#fafafa}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.pass{color:#17692c;white-space:nowrap}.fail{color:#b00020;font-weight:600;white-space:nowrap}.na{color:#888}
.note{font-size:12px;color:#555;margin:.2em 0 1.4em}.missing{color:#a00}
figure{margin:1.2em 0 2em}
/* tall grids would fill several screens at the column's width: capped, keeping their aspect ratio */
img{max-width:100%;max-height:1100px;width:auto;height:auto;border:1px solid #eee}
figcaption{font-size:13px;color:#333;margin-top:.3em}
table.provenance td{overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:.2em 1.6em}
.card h3{margin:1em 0 .2em}table.card th{white-space:nowrap}"""


def esc(value) -> str:
    return html.escape(str(value))


def table_html(table: DisplayTable) -> str:
    """A display table in its scrolling box; the first cell of a row is its header cell (it names the row)."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in table.headers)
    body = []
    for row in table.rows:
        cells = [f'<th scope="row" class="{kind}">{esc(text)}</th>' if i == 0 else
                 f'<td class="{kind}">{esc(text)}</td>' if kind else f"<td>{esc(text)}</td>"
                 for i, (text, kind) in enumerate(row)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    title = f"<h4>{esc(table.title)}</h4>" if table.title else ""
    notes = f'<p class="note">{esc("; ".join(table.notes))}</p>' if table.notes else ""
    return (f'{title}<div class="table-box"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{notes}')


def key_value_table(pairs, css_class: str = "") -> str:
    """Two columns, a name and its value per row (provenance)."""
    rows = "".join(f'<tr><th scope="row">{esc(k)}</th><td>{esc(v)}</td></tr>' for k, v in pairs)
    return f'<div class="table-box"><table class="{css_class}"><tbody>{rows}</tbody></table></div>'


def figure_html(path: Path, number: int, caption: str) -> str:
    """A PNG embedded as a data URI, so the page opens offline, with its numbered one-line caption."""
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure id="fig-{esc(path.stem)}"><img alt="{esc(path.stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>Figure {number}.</b> {esc(caption)}</figcaption></figure>")


def summary_html(findings: list[Finding]) -> str:
    """The summary of findings, each sentence linked to the table it rests on."""
    items = "".join(f"<li>{esc(f.text)}" + (f' <a href="#{esc(f.source)}">(table)</a>' if f.source else "")
                    + "</li>" for f in findings)
    return f'<section class="summary" id="summary"><h2>Summary of findings</h2><ul>{items}</ul></section>'


def contents_html(entries: list[tuple[str, str]]) -> str:
    """The table of contents: (anchor, title) of every section, in page order."""
    items = "".join(f'<li><a href="#{esc(anchor)}">{esc(title)}</a></li>' for anchor, title in entries)
    return f'<nav class="toc" id="contents"><h2>Contents</h2><ol>{items}</ol></nav>'


def page_html(title: str, body: list[str]) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body>" + "\n".join(body) + "</body></html>")
