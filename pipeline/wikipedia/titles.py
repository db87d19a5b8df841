"""MediaWiki title rules: which link targets are articles, and their canonical spelling.

A canonical title is what wikistats files use as a bare URI: underscores for spaces, first
letter upper case (`case="first-letter"` wikis such as English Wikipedia), no `#section`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

# English Wikipedia's namespaces and their aliases (lower case, spaces). A dump's own
# <siteinfo> names are added to these by `Namespaces.with_names`.
ENGLISH_NAMESPACES = frozenset(
    {
        "media", "special", "talk", "user", "user talk", "wikipedia", "wikipedia talk",
        "file", "file talk", "mediawiki", "mediawiki talk", "template", "template talk",
        "help", "help talk", "category", "category talk", "portal", "portal talk", "book",
        "book talk", "draft", "draft talk", "timedtext", "timedtext talk", "module",
        "module talk", "education program", "education program talk", "gadget",
        "gadget talk", "gadget definition", "gadget definition talk", "topic", "event",
        "event talk",
        # aliases
        "wp", "wt", "project", "project talk", "image", "image talk", "tm",
    }
)

# Namespaces whose links are invisible (categorisation, embedded media) unless written
# with a leading colon.
_INVISIBLE_NAMESPACES = frozenset({"category", "file", "image"})

# Wikipedia language editions: `[[fr:Paris]]` is an interlanguage link, not an article.
LANGUAGE_CODES = frozenset(
    """
    aa ab ace ady af ak als alt am ami an ang anp ar arc ary arz as ast atj av avk awa ay az
    azb ba ban bar bat-smg bbc bcl bdr be be-tarask be-x-old bew bg bh bi bjn blk bm bn bo
    bpy br bs btm bug bxr ca cbk-zam cdo ce ceb ch cho chr chy ckb co cr crh cs csb cu cv cy
    da dag de dga din diq dsb dtp dty dv dz ee el eml en eo es et eu ext fa fat ff fi fiu-vro
    fj fo fon fr frp frr fur fy ga gag gan gcr gd gl glk gn gom gor got gpe gu guc gur guw gv
    ha hak haw he hi hif ho hr hsb ht hu hy hyw hz ia iba id ie ig igl ii ik ilo inh io is it
    iu ja jam jbo jv ka kaa kab kbd kbp kcg kg kge ki kj kk kl km kn knc ko koi kr krc ks ksh
    ku kus kv kw ky la lad lb lbe lez lfn lg li lij lld lmo ln lo lrc lt ltg lv mad mai
    map-bms mdf mg mh mhr mi min mk ml mn mni mnw mo mos mr mrj ms mt mus mwl my myv mzn na
    nah nap nds nds-nl ne new ng nia nl nn no nov nqo nr nrm nso nup nv ny oc olo om or os pa
    pag pam pap pcd pcm pdc pfl pi pih pl pms pnb pnt ps pt pwn qu rm rmy rn ro roa-rup
    roa-tara rsk ru rue rup rw sa sah sat sc scn sco sd se sg sgs sh shi shn shy si simple sk
    skr sl sm smn sn so sq sr srn ss st stq su sv sw syl szl szy ta tay tcy tdd te tet tg th
    ti tig tk tl tly tn to tpi tr trv ts tt tum tw ty tyv udm ug uk ur uz ve vec vep vi vls
    vo vro wa war wo wuu xal xh xmf yi yo yue za zea zgh zh zh-classical zh-min-nan zh-yue
    zu
    """.split()  # noqa: SIM905 - a word list reads best as words
)

# Other interwiki prefixes (Wikimedia projects and the common entries of the interwiki map).
INTERWIKI_PREFIXES = frozenset(
    """
    wikipedia w wiktionary wikt wikinews n wikibooks b wikiquote q wikisource s wikispecies
    species wikiversity v wikivoyage voy wikimedia wmf foundation commons c meta m metawiki
    metawikimedia mw mediawikiwiki d wikidata incubator outreach phabricator phab bugzilla
    mediazilla gerrit toollabs toolforge nost testwiki wikitech wikimania strategy quality
    usability otrs otrswiki ticket wikifunctions f wmania betawikiversity sourceforge google
    googlegroups doi arxiv rfc pmid oeis imdbname imdbtitle imdbcompany imdbcharacter
    wikia wikiapiary memoryalpha uncyclopedia wikihow scholar worldcat lccn issn isbn
    """.split()  # noqa: SIM905
)

_SPACES = re.compile(r"[\s_\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_DIRECTION_MARKS = re.compile(r"[\u200e\u200f\u202a-\u202e]")
_INVALID = re.compile(r"[<>\[\]|{}\x00-\x1f\x7f\ufffd]|~{3,}")
_MAX_TITLE_BYTES = 255


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """Where a `[[...]]` link points.

    `title` is the canonical main-namespace title, or None when the link leaves namespace 0
    (another namespace, an interwiki or interlanguage link, a section of the same page, an
    invalid title). `shown` says whether the link's text appears in the rendered article:
    `[[Category:X]]`, `[[File:x.jpg|...]]` and `[[fr:Paris]]` are not shown.
    """

    title: str | None
    shown: bool


@dataclass(frozen=True, slots=True)
class Namespaces:
    """The namespace names (lower case, spaces) that make a title leave namespace 0."""

    names: frozenset[str] = ENGLISH_NAMESPACES

    def with_names(self, names: Iterable[str]) -> Namespaces:
        extra = {_SPACES.sub(" ", n).strip().lower() for n in names if n and n.strip()}
        return Namespaces(self.names | extra)


ENGLISH = Namespaces()


def canonical_title(title: str) -> str:
    """A page title as a wikistats URI: spaces to underscores, first letter upper case."""
    title = _SPACES.sub(" ", _DIRECTION_MARKS.sub("", title)).strip()
    return _upper_first(title).replace(" ", "_")


def parse_link_target(raw: str, namespaces: Namespaces = ENGLISH) -> LinkTarget:
    """Resolve the target part of `[[target|text]]` (or a redirect's target) as MediaWiki does."""
    text = html.unescape(raw)
    if "%" in text:
        text = unquote(text)
    text = _SPACES.sub(" ", _DIRECTION_MARKS.sub("", text)).strip()
    leading_colon = text.startswith(":")
    if leading_colon:
        text = text[1:].strip()
    text = text.split("#", 1)[0].strip()
    if not text:
        return LinkTarget(None, True)
    prefix, colon, rest = text.partition(":")
    if colon:
        key = prefix.strip().lower()
        if key in namespaces.names:
            return LinkTarget(None, leading_colon or key not in _INVISIBLE_NAMESPACES)
        if key in LANGUAGE_CODES:
            return LinkTarget(None, leading_colon)
        if key in INTERWIKI_PREFIXES:
            return LinkTarget(None, True)
        if not prefix.strip():
            return LinkTarget(None, True)
    if _INVALID.search(text) or text in {".", ".."} or text.startswith(("./", "../")):
        return LinkTarget(None, True)
    title = _upper_first(text).replace(" ", "_")
    if len(title.encode("utf-8")) > _MAX_TITLE_BYTES:
        return LinkTarget(None, True)
    return LinkTarget(title, True)


def _upper_first(text: str) -> str:
    if not text:
        return text
    first = text[0].upper()
    # Characters whose upper case is longer than one character (e.g. "ß") stay as they are.
    return (first if len(first) == 1 else text[0]) + text[1:]
