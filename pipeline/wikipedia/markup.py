"""Wikitext to plain article text, with the position of every link to an article.

Parsing is mwparserfromhell's; this module decides what of the parse tree is prose.
Templates, tables, references, comments, headings, embedded files, category and
interlanguage links are left out; bold/italic quotes are dropped and their text kept;
`[[Target|anchor]]`, `[[Target]]` and link trails (`[[bus]]es`) become links whose
`text[start:end]` is the surface form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import mwparserfromhell
from mwparserfromhell.nodes import (
    Comment,
    ExternalLink,
    Heading,
    HTMLEntity,
    Tag,
    Template,
    Text,
    Wikilink,
)
from mwparserfromhell.wikicode import Wikicode

from longtail.wikipedia.titles import ENGLISH, Namespaces, parse_link_target

# Tags whose content is not prose.
_DROPPED_TAGS = frozenset(
    {
        "ref", "references", "table", "gallery", "math", "chem", "ce", "score", "timeline",
        "syntaxhighlight", "source", "pre", "imagemap", "graph", "mapframe", "maplink",
        "templatedata", "templatestyles", "categorytree", "inputbox", "hiero", "indicator",
        "includeonly", "charinsert", "section", "style", "script", "caption",
    }
)
# Tags that start and end a block of text.
_BLOCK_TAGS = frozenset(
    {"div", "p", "blockquote", "center", "ul", "ol", "dl", "hr", "poem", "li", "dt", "dd"}
)
# Templates that show (one of) their arguments as running text: name -> argument number.
_TEXT_TEMPLATES = {
    "nowrap": "1", "nobr": "1", "nobreak": "1", "small": "1", "smaller": "1", "big": "1",
    "nobold": "1", "noitalic": "1", "lang": "2",
}
_LINK_TRAIL = re.compile(r"[a-z]+")  # English Wikipedia's $linkTrail
# Quotes of unbalanced bold/italic, behaviour switches, tags the parser left as text.
_STRAY_MARKUP = re.compile(r"'{2,}|__[A-Z]+__|</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
_WHITESPACE_OR_WORD = re.compile(r"(\s+)|(\S+)")
_PARENTHETICAL = re.compile(r"\s*\([^()]*\)\s*$")
# Removed before parsing, so that a malformed one cannot turn the rest of a page into text.
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_REFERENCE = re.compile(
    r"<ref(?:\s[^<>]*?)?/>|<ref(?:\s[^<>]*)?>.*?(?:</ref\s*>|\Z)", re.DOTALL | re.IGNORECASE
)
_TABLE_OPEN = re.compile(r"^[\s:]*\{\|")
_TABLE_CLOSE = re.compile(r"^\s*\|\}")

_SPACE, _LINE, _PARAGRAPH = 1, 2, 3


@dataclass(frozen=True, slots=True)
class WikiLink:
    """A link to a main-namespace page; `target` is canonical but not redirect-resolved."""

    target: str
    surface_form: str
    start: int
    end: int


@dataclass(slots=True)
class ParsedArticle:
    """An article's plain text, its links into namespace 0 and the templates it uses."""

    text: str
    links: list[WikiLink] = field(default_factory=list)
    templates: set[str] = field(default_factory=set)


def parse_wikitext(wikitext: str, namespaces: Namespaces = ENGLISH) -> ParsedArticle:
    """The plain text of an article and its links, positions in code points of `text`."""
    builder = _TextBuilder()
    templates: set[str] = set()
    _Walker(namespaces, builder, templates, record_links=True).walk(
        mwparserfromhell.parse(_drop_tables(_REFERENCE.sub("", _COMMENT.sub("", wikitext))))
    )
    return ParsedArticle(builder.value(), builder.links, templates)


def strip_markup(wikitext: str, namespaces: Namespaces = ENGLISH) -> str:
    """Just the plain text of `parse_wikitext`."""
    return parse_wikitext(wikitext, namespaces).text


class _TextBuilder:
    """Appends text with whitespace collapsed: runs of blanks become one space, a blank
    line one paragraph break; whitespace is written only when more text follows it."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.pending = 0
        self.links: list[WikiLink] = []

    def text(self, value: str) -> None:
        for match in _WHITESPACE_OR_WORD.finditer(value):
            blank, word = match.groups()
            if blank is not None:
                newlines = blank.count("\n")
                self.pause(_PARAGRAPH if newlines > 1 else _LINE if newlines else _SPACE)
            else:
                self._write(word)

    def pause(self, strength: int) -> None:
        self.pending = max(self.pending, strength)

    def link(self, target: str, anchor: str) -> bool:
        """Write `anchor` as a link; False (nothing written) when it is blank."""
        anchor = " ".join(anchor.split())
        if not anchor:
            return False
        self._write("")  # flush pending whitespace so that `start` is exact
        start = self.length
        self._write(anchor)
        self.links.append(WikiLink(target, anchor, start, self.length))
        return True

    def extend_last_link(self, trail: str) -> None:
        last = self.links[-1]
        self._write(trail)
        self.links[-1] = WikiLink(last.target, last.surface_form + trail, last.start, self.length)

    def _write(self, value: str) -> None:
        if self.pending and self.length:
            sep = " " if self.pending == _SPACE else "\n" if self.pending == _LINE else "\n\n"
            self.parts.append(sep)
            self.length += len(sep)
        self.pending = 0
        if value:
            self.parts.append(value)
            self.length += len(value)

    def value(self) -> str:
        return "".join(self.parts)


class _Walker:
    def __init__(
        self,
        namespaces: Namespaces,
        builder: _TextBuilder,
        templates: set[str],
        record_links: bool,
    ) -> None:
        self.namespaces = namespaces
        self.out = builder
        self.templates = templates
        self.record_links = record_links

    def walk(self, code: Wikicode | None) -> None:
        if code is None:
            return
        nodes = code.nodes
        trail_owed = 0
        for index, node in enumerate(nodes):
            if isinstance(node, Text):
                value = str(node.value)
                if trail_owed:
                    self.out.extend_last_link(value[:trail_owed])
                    value = value[trail_owed:]
                    trail_owed = 0
                self.out.text(_STRAY_MARKUP.sub("", value))
            elif isinstance(node, Wikilink):
                if self._wikilink(node) and index + 1 < len(nodes):
                    following = nodes[index + 1]
                    if isinstance(following, Text):
                        trail = _LINK_TRAIL.match(str(following.value))
                        trail_owed = trail.end() if trail else 0
            elif isinstance(node, HTMLEntity):
                self.out.text(node.normalize().replace("\u00a0", " "))
            elif isinstance(node, Tag):
                self._tag(node)
            elif isinstance(node, Template):
                self._template(node)
            elif isinstance(node, ExternalLink):
                if node.brackets and node.title is not None:
                    self.walk(node.title)
            elif isinstance(node, Heading):
                self.out.pause(_PARAGRAPH)
            elif isinstance(node, Comment):
                continue
            # Arguments ({{{1}}}) and anything else carry no article text.

    def _wikilink(self, node: Wikilink) -> bool:
        """Emit a link's visible text; True when it was recorded as a link to an article."""
        target = parse_link_target(str(node.title), self.namespaces)
        if not target.shown:
            return False
        if node.text is None:
            anchor = self._plain(node.title).lstrip(":").strip()
        elif not str(node.text).strip():
            anchor = _pipe_trick(self._plain(node.title))
        else:
            anchor = self._plain(node.text)
        if target.title is None or not self.record_links:
            self.out.text(anchor)
            return False
        return self.out.link(target.title, anchor)

    def _tag(self, node: Tag) -> None:
        name = str(node.tag).strip().lower()
        if name in _DROPPED_TAGS:
            return
        if name == "br":
            self.out.pause(_LINE)
            return
        block = name in _BLOCK_TAGS or node.wiki_markup in {"*", "#", ":", ";"}
        if block:
            self.out.pause(_LINE)
        if not node.self_closing:
            self.walk(node.contents)
        if block:
            self.out.pause(_LINE)

    def _template(self, node: Template) -> None:
        name = " ".join(str(node.name).replace("_", " ").split()).lower()
        if name:
            self.templates.add(name)
        argument = _TEXT_TEMPLATES.get(name)
        if argument is not None and node.has(argument):
            self.walk(node.get(argument).value)

    def _plain(self, code: Wikicode) -> str:
        builder = _TextBuilder()
        _Walker(self.namespaces, builder, self.templates, record_links=False).walk(code)
        return builder.value()


def _drop_tables(wikitext: str) -> str:
    """Wikitext without `{| ... |}` tables (nested ones included), line by line."""
    if "{|" not in wikitext:
        return wikitext
    kept: list[str] = []
    depth = 0
    for line in wikitext.splitlines(keepends=True):
        if _TABLE_OPEN.match(line):
            depth += 1
        elif depth and _TABLE_CLOSE.match(line):
            depth -= 1
            if not depth:
                kept.append("\n")
        elif not depth:
            kept.append(line)
    return "".join(kept)


def _pipe_trick(title: str) -> str:
    """`[[Paris (band)|]]` shows "Paris", `[[Paris, Texas|]]` shows "Paris"."""
    title = title.lstrip(":")
    stripped = _PARENTHETICAL.sub("", title)
    if stripped == title:
        stripped = title.split(",", 1)[0]
    return stripped.strip()
