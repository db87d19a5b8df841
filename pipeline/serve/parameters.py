"""What a Spotlight request asks for: its form, its parameters, its type filter and its format.

Parameters follow Spotlight's REST resources: `text`, `confidence` (default 0.5), `support`
(default 0), `types`, `sparql`, `policy` (`whitelist` or `blacklist`), read from the query
string and, for POST, from an `application/x-www-form-urlencoded` or `multipart/form-data`
body (body values win). Spotlight ignores a malformed value or answers with a stack trace;
here it is a `BadRequest` with a one-line message.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl

from longtail.linking.annotation import SPOTLIGHT_CONFIDENCE, SPOTLIGHT_SUPPORT

DEFAULT_CONFIDENCE = SPOTLIGHT_CONFIDENCE
DEFAULT_SUPPORT = SPOTLIGHT_SUPPORT
DEFAULT_MAX_BODY_BYTES = 2_000_000  # Spotlight's (Grizzly's) POST limit
DEFAULT_THREADS = 2  # linkers per server process
DEFAULT_REQUEST_TIMEOUT = 30.0  # seconds for a request (head and body) to arrive
DEFAULT_MAX_REQUEST_MEMORY = 1 << 30  # bytes that linking one text may add to a worker
DEFAULT_MAX_REQUEST_SECONDS = 60.0  # CPU seconds that linking one text may take
MAX_FIELDS = 100

_QNAME = re.compile(r"^([A-Za-z]*):(.*)$", re.DOTALL)
_DBPEDIA_ONTOLOGY = "http://dbpedia.org/ontology/"
# Spotlight's `OntologyType.fromQName` prefixes (lowercased) and the type ids they make.
_TYPE_PREFIXES = {
    "d": "DBpedia", "dbpedia": "DBpedia", "s": "Schema", "schema": "Schema",
    "f": "Freebase", "freebase": "Freebase", "w": "Wikidata", "wikidata": "Wikidata",
    "dul": "DUL", "o": "OpenCyc", "opencyc": "OpenCyc",
}
UNKNOWN_TYPE = "DBpedia:Unknown"


class BadRequest(Exception):
    """A request this server will not serve; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
        self.message = message


def form_fields(query: str, body: bytes = b"", content_type: str | None = None
                ) -> dict[str, str]:
    """The first value of each field, from the query string and then the body."""
    fields = _first_values(_parse_urlencoded(query.encode("latin-1"), "query string"))
    if body:
        media_type = (content_type or "").split(";")[0].strip().lower()
        if media_type in ("", "application/x-www-form-urlencoded"):
            pairs = _parse_urlencoded(body, "form body")
        elif media_type == "multipart/form-data":
            pairs = _parse_multipart(body, content_type or "")
        else:
            raise BadRequest(f"unsupported Content-Type {media_type!r}; send "
                             f"application/x-www-form-urlencoded or multipart/form-data", 415)
        fields.update(_first_values(pairs))
    return fields


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _parse_urlencoded(data: bytes, where: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(data.decode("utf-8"), keep_blank_values=True, encoding="utf-8",
                         errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise BadRequest(f"the {where} is not valid UTF-8") from None
    except ValueError as err:
        raise BadRequest(f"unreadable {where}: {err}") from None


def _parse_multipart(body: bytes, content_type: str) -> list[tuple[str, str]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body)
    if not message.is_multipart():
        raise BadRequest("unreadable multipart body (no boundary or no parts)")
    pairs = []
    for part in message.iter_parts():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        try:
            pairs.append((name, payload.decode(charset)))
        except (UnicodeDecodeError, LookupError):
            raise BadRequest(f"multipart field {name!r} is not valid {charset}") from None
        if len(pairs) > MAX_FIELDS:
            raise BadRequest(f"more than {MAX_FIELDS} multipart fields")
    return pairs


@dataclass(frozen=True)
class TypeFilter:
    """Spotlight's `TypeFilter`: `types` as type ids ("DBpedia:Person", "Schema:Place").

    Whitelist keeps a resource with at least one listed type, blacklist one with none; an
    empty list keeps everything; listing an `unknown` type (e.g. "DBpedia:Unknown") also keeps
    resources without types under a whitelist.
    """

    type_ids: frozenset[str] = frozenset()
    blacklist: bool = False

    @classmethod
    def parse(cls, types: str, policy: str = "whitelist") -> TypeFilter:
        ids = frozenset(type_id(t) for t in types.split(",") if t.strip())
        return cls(ids, policy.strip().lower() == "blacklist")

    def accepts(self, types: tuple[str, ...]) -> bool:
        if not self.type_ids:
            return True
        if not types and UNKNOWN_TYPE in self.type_ids:
            return True
        listed = any(t in self.type_ids for t in types)
        return not listed if self.blacklist else listed


def type_id(name: str) -> str:
    """The id Spotlight's `OntologyType.fromQName` gives a requested type: "Person",
    "dbpedia:person" and "http://dbpedia.org/ontology/Person" all give "DBpedia:Person"."""
    name = name.strip()
    match = _QNAME.match(name)
    if match:
        prefix, suffix = match.group(1).lower(), match.group(2)
        if suffix.lower() == "unknown":
            return UNKNOWN_TYPE
        kind = _TYPE_PREFIXES.get(prefix)
        if kind == "DBpedia":
            return _dbpedia_type_id(suffix)
        if kind is not None:
            return f"{kind}:{suffix}"
    return _dbpedia_type_id(name)


def _dbpedia_type_id(name: str) -> str:
    name = name.replace(_DBPEDIA_ONTOLOGY, "").replace("DBpedia:", "")
    name = re.sub(r" ([a-zA-Z])", r"\1", name[:1].upper() + name[1:]).strip()
    return name if name.lower().startswith("http") else f"DBpedia:{name}"


@dataclass(frozen=True)
class SpotlightParams:
    """One request's parameters, checked; `types`, `sparql` and `policy` as sent (echoed)."""

    text: str
    confidence: float = DEFAULT_CONFIDENCE
    support: int = DEFAULT_SUPPORT
    types: str = ""
    sparql: str = ""
    policy: str = "whitelist"

    @property
    def type_filter(self) -> TypeFilter:
        return TypeFilter.parse(self.types, self.policy)


def spotlight_params(fields: dict[str, str]) -> SpotlightParams:
    """Checked parameters; `BadRequest` for a missing or blank text or a malformed value."""
    if fields.get("url", "").strip():
        raise BadRequest("the url parameter is not supported (this server fetches nothing); "
                         "send the text itself in the text parameter")
    text = fields.get("text", "")
    if not text.strip():
        raise BadRequest("no text was given in the text parameter")
    policy = fields.get("policy", "").strip() or "whitelist"
    if policy.lower() not in ("whitelist", "blacklist"):
        raise BadRequest(f"policy must be whitelist or blacklist, got {policy!r}")
    return SpotlightParams(
        text=text,
        confidence=_confidence(fields.get("confidence", "")),
        support=_support(fields.get("support", "")),
        types=fields.get("types", ""),
        sparql=fields.get("sparql", ""),
        policy=policy,
    )


def _confidence(value: str) -> float:
    if not value.strip():
        return DEFAULT_CONFIDENCE
    try:
        confidence = float(value)
    except ValueError:
        raise BadRequest(f"confidence must be a number between 0 and 1, got {value!r}") from None
    if not math.isfinite(confidence) or not 0.0 <= confidence <= 1.0:
        raise BadRequest(f"confidence must be a number between 0 and 1, got {value!r}")
    return confidence


def _support(value: str) -> int:
    if not value.strip():
        return DEFAULT_SUPPORT
    try:
        support = int(value)
    except ValueError:
        raise BadRequest(f"support must be an integer >= 0, got {value!r}") from None
    if support < 0:
        raise BadRequest(f"support must be an integer >= 0, got {value!r}")
    return support


def response_format(accept: str | None) -> str:
    """"json" or "xml" from an Accept header, by quality then order. Spotlight answers HTML
    when no Accept header (or `*/*`, `text/html`) is sent; this server answers its XML then."""
    best, best_q = "xml", -1.0
    for item in (accept or "").split(","):
        media, _, params = item.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, val = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        kind = "json" if media.endswith(("/json", "+json")) else \
            "xml" if media.endswith(("/xml", "+xml")) else None
        if kind is not None and q > best_q:
            best, best_q = kind, q
    return best
