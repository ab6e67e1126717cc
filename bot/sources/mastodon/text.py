"""Mastodon status HTML as the plain text its author typed, converted once, here.

Mastodon sends `content` as HTML (what a person typed, escaped, in <p> and <br />, with mentions, hashtags and links
wrapped in tags); other servers send their own HTML, which Mastodon sanitises to a small set of tags. The rest of
replywatch wants the text as typed, with no markup and nothing escaped, so that the Slack sink escapes it once:

- entities are unescaped exactly once (`&amp;lt;` is the five characters `&lt;`, as typed);
- tags are dropped and their text kept: `@<span>acme</span>` reads `@acme`, a link reads as its visible text, and a
  long link's `invisible` spans (the scheme and the tail Mastodon hides behind an ellipsis) are kept, so the URL
  reads whole;
- paragraphs are separated by a blank line and <br> is a newline, as typed; a newline in the HTML source is
  whitespace, as a browser shows it (except in <pre>);
- script and style contents (which Mastodon strips anyway) are dropped; NUL is dropped (PostgreSQL text cannot
  hold it).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"})
_HIDDEN = frozenset({"script", "style"})
_PARAGRAPH = "\x00"  # marks a paragraph boundary until the end (NUL never survives into the text)
_BOUNDARIES = re.compile(r"[ \n]*\x00[\x00 \n]*")


class _PlainText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities in text are decoded once, by the parser
        self.parts: list[str] = []
        self._pre = 0
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append(_PARAGRAPH)
        self._pre += tag == "pre"
        self._hidden += tag in _HIDDEN

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append(_PARAGRAPH)
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        data = data.replace("\x00", "")
        if not self._pre:
            data = re.sub(r"[\r\n\t]", " ", data)
            if not self.parts or self.parts[-1].endswith(("\n", _PARAGRAPH)):
                data = data.lstrip(" ")  # a browser shows no space at the start of a line
        self.parts.append(data)


def plain_text(content: str) -> str:
    """The text a person typed, from a status's HTML `content`."""
    parser = _PlainText()
    parser.feed(content)
    parser.close()
    text = _BOUNDARIES.sub("\n\n", "".join(parser.parts).strip(" \n" + _PARAGRAPH))
    return text.replace(_PARAGRAPH, "")


def status_text(content: str, spoiler_text: str = "") -> str:
    """A status's text, its content warning (plain text in the API) in front as `CW: …` on its own line."""
    text = plain_text(content)
    warning = spoiler_text.replace("\x00", "").strip()
    return f"CW: {warning}\n{text}" if warning else text
