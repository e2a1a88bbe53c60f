"""The look every notebook display shares: a monospace font, table cell styles, the error colours.

Carved from simkernel/display.py.  Display helpers only read kernel objects; simkernel/trace.py lists this
module among the modules never recorded.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__: list[str] = []   # private to the display modules

_FONT = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px"
_TABLE = "border-collapse:collapse;" + _FONT
_TH = "text-align:left;padding:2px 8px;border-bottom:1px solid #999"
_TD = "padding:1px 8px;vertical-align:top;white-space:nowrap"
_RED = "#c0392b"
_ORANGE = "#d35400"
_GRAY = "#888"


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def _th(head: tuple[str, ...]) -> str:
    """The header cells of a table."""
    return "".join(f'<th style="{_TH}">{_e(h)}</th>' for h in head)


def _td(cells: Any) -> str:
    """The data cells of one row."""
    return "".join(f'<td style="{_TD}">{_e(c)}</td>' for c in cells)


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]], cls: str) -> str:
    body = "".join("<tr>" + _td(r) + "</tr>" for r in rows)
    return f'<table class="{cls}" style="{_TABLE}"><thead><tr>{_th(head)}</tr></thead><tbody>{body}</tbody></table>'
