"""The report's own markdown (`code`, *emphasis*, **strong**) rendered as safe HTML.

Example:
    >>> markdown_inline("*Masked* scores `eval run` <b>x</b>")
    '<em>Masked</em> scores <code>eval run</code> &lt;b&gt;x&lt;/b&gt;'
"""

from __future__ import annotations

import functools
from typing import Any


def markdown_inline(text: str) -> str:
    """``text`` as inline HTML; raw HTML in it is escaped, never passed through (a prompt or a
    rewrite holding ``<script>`` shows as text)."""
    return _markdown().renderInline(text)


@functools.lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False})
