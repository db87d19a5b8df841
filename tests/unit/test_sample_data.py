"""The bundled sample keeps the promises its README makes."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from longtail.errors import UsageError
from longtail.sample import (
    SAMPLE_CORPUS,
    SAMPLE_QA,
    SAMPLE_QA_DESIGN,
    SAMPLE_WIKI,
    sample_path,
)
from longtail.schemas.tables import (
    STATUS_COUNTED,
    STATUS_NO_ANSWER_ENTITY,
    STATUS_NO_QUESTION_ENTITY,
    STATUS_ZERO,
)

MW = "{http://www.mediawiki.org/xml/export-0.10/}"
# [[target]], [[target|anchor]], optional link trail.
WIKILINK = re.compile(r"\[\[([^\[\]|]+)(?:\|([^\[\]]*))?\]\]([a-z]*)")
NON_ARTICLE_PREFIXES = ("File:", "Category:", "Help:", "fr:", ":")


@dataclass(frozen=True)
class WikiPage:
    title: str
    ns: int
    page_id: int
    revision_id: int
    redirect: str | None
    text: str

    @property
    def is_disambiguation(self) -> bool:
        return "{{disambiguation" in self.text


@pytest.fixture(scope="module")
def wiki_pages() -> list[WikiPage]:
    root = ET.parse(SAMPLE_WIKI).getroot()
    assert root.tag == f"{MW}mediawiki"
    assert root.find(f"{MW}siteinfo/{MW}namespaces") is not None
    pages = []
    for page in root.iter(f"{MW}page"):
        redirect = page.find(f"{MW}redirect")
        pages.append(
            WikiPage(
                title=page.findtext(f"{MW}title"),
                ns=int(page.findtext(f"{MW}ns")),
                page_id=int(page.findtext(f"{MW}id")),
                revision_id=int(page.findtext(f"{MW}revision/{MW}id")),
                redirect=None if redirect is None else redirect.get("title"),
                text=page.findtext(f"{MW}revision/{MW}text"),
            )
        )
    return pages


@pytest.fixture(scope="module")
def redirects(wiki_pages: list[WikiPage]) -> dict[str, str]:
    return {p.title: p.redirect for p in wiki_pages if p.redirect is not None}


@pytest.fixture(scope="module")
def articles(wiki_pages: list[WikiPage]) -> dict[str, WikiPage]:
    """Main-namespace pages that are not redirects, disambiguation pages included."""
    return {p.title: p for p in wiki_pages if p.ns == 0 and p.redirect is None}


def resolve(title: str, redirects: dict[str, str]) -> str:
    seen = set()
    while title in redirects and title not in seen:
        seen.add(title)
        title = redirects[title]
    return title


def article_links(text: str) -> list[tuple[str, str]]:
    """(target without section, anchor text) of every link to a main-namespace page."""
    links = []
    for match in WIKILINK.finditer(text):
        target = match.group(1).strip()
        if target.startswith(NON_ARTICLE_PREFIXES):
            continue
        anchor = (match.group(2) if match.group(2) is not None else target) + match.group(3)
        target = target.split("#")[0]
        links.append((target[:1].upper() + target[1:], anchor.strip("'")))
    return links


def unlinked_text(text: str) -> str:
    """Wikitext with every link removed, keeping neither target nor anchor."""
    return WIKILINK.sub(" ", text)


def contains_word(text: str, word: str, ignore_case: bool = True) -> bool:
    flags = re.IGNORECASE if ignore_case else 0
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags) is not None


# --- wiki ---------------------------------------------------------------------------------------


def test_wiki_page_counts_match_the_readme(wiki_pages, articles, redirects):
    assert len(wiki_pages) == 131
    disambiguation = [t for t, p in articles.items() if p.is_disambiguation]
    assert len(articles) - len(disambiguation) == 104
    names = ("Paris", "Mercury", "Amazon", "Python", "Georgia", "Washington", "Jordan", "Apple")
    assert sorted(disambiguation) == sorted(f"{name} (disambiguation)" for name in names)
    assert len(redirects) == 18
    assert [p.title for p in wiki_pages if p.ns != 0] == ["Template:Disambiguation"]


def test_wiki_ids_are_unique(wiki_pages):
    assert len({p.page_id for p in wiki_pages}) == len(wiki_pages)
    assert len({p.revision_id for p in wiki_pages}) == len(wiki_pages)
    assert len({p.title for p in wiki_pages}) == len(wiki_pages)


def test_redirect_text_agrees_with_redirect_element(wiki_pages):
    for page in wiki_pages:
        if page.redirect is not None:
            assert page.text.startswith(f"#REDIRECT [[{page.redirect}]]"), page.title
        else:
            assert not page.text.upper().startswith("#REDIRECT"), page.title


def test_promised_redirects_chain_and_cycle(redirects, articles):
    assert redirects["USA"] == "United States"
    assert redirects["City of Light"] == "Paris"
    assert redirects["Big Apple"] == "New York City"
    assert redirects["Hydrargyrum"] == "Quicksilver"
    assert redirects["Quicksilver"] == "Mercury (element)"
    assert "Mercury (element)" in articles
    cycles = {frozenset((a, b)) for a, b in redirects.items() if redirects.get(b) == a and a != b}
    assert cycles == {frozenset(("Ilium (ancient city)", "Ilion (ancient city)"))}
    # Every other redirect ends at an article of the sample.
    cyclic = set().union(*cycles)
    for source in redirects.keys() - cyclic:
        assert resolve(source, redirects) in articles, source


def test_paris_disambiguation_lists_both_senses(articles):
    page = articles["Paris (disambiguation)"]
    targets = {target for target, _ in article_links(page.text)}
    assert {"Paris", "Paris (mythology)"} <= targets
    assert articles["Paris"].is_disambiguation is False


def test_special_links_are_present(articles, redirects):
    all_text = "\n".join(p.text for p in articles.values() if not p.is_disambiguation)
    assert "[[fr:Paris]]" in articles["Paris"].text
    assert "[[Help:Contents]]" in all_text
    assert re.search(r"\[\[[^\]|]+#[^\]|]+\|", all_text), "no link to a section"
    to_redirects = [
        target
        for page in articles.values()
        if not page.is_disambiguation
        for target, _ in article_links(page.text)
        if target in redirects
    ]
    assert len(to_redirects) >= 2
    assert "Hydrargyrum" in to_redirects


def test_articles_carry_real_dump_markup(articles):
    prose = {t: p for t, p in articles.items() if not p.is_disambiguation}
    for title, page in prose.items():
        assert re.search(r"\{\{(Infobox|Speciesbox|Automatic taxobox)", page.text), title
        assert "'''" in page.text, title
        assert "[[Category:" in page.text, title
        assert len(article_links(page.text)) >= 3, title
    every = "\n".join(p.text for p in prose.values())
    for marker in ("<ref>", "<ref>{{cite", "<!--", "{|", "|}", "[[File:", "''"):
        assert marker in every, marker
    trails = [m for m in WIKILINK.finditer(every) if m.group(3)]
    assert len(trails) >= 3


AMBIGUOUS_FORMS = [
    "Paris",
    "Mercury",
    "Amazon",
    "Java",
    "Python",
    "Georgia",
    "Washington",
    "Jordan",
]


@pytest.mark.parametrize("form", AMBIGUOUS_FORMS + ["Jaguar", "Apple"])
def test_ambiguous_forms_link_to_several_entities(form, articles, redirects):
    targets: Counter[str] = Counter()
    unlinked = 0
    for page in articles.values():
        if page.is_disambiguation:
            continue
        for target, anchor in article_links(page.text):
            if anchor.lower() == form.lower():
                targets[resolve(target, redirects)] += 1
        unlinked += len(re.findall(rf"(?<!\w){form}(?!\w)", unlinked_text(page.text)))
    assert len(targets) >= 2, targets
    assert all(target in articles for target in targets), targets
    assert unlinked > 0, f"{form} is never seen unlinked"


@pytest.mark.parametrize("form", AMBIGUOUS_FORMS)
def test_ambiguous_priors_differ(form, articles, redirects):
    """Exact-case anchors: the most linked sense is strictly ahead of the runner-up or the senses
    spread over three or more targets, so P(entity | form) is not uniform over two."""
    targets: Counter[str] = Counter()
    for page in articles.values():
        if not page.is_disambiguation:
            for target, anchor in article_links(page.text):
                if anchor == form:
                    targets[resolve(target, redirects)] += 1
    counts = sorted(targets.values(), reverse=True)
    assert len(counts) >= 2
    assert counts[0] > counts[1] or len(counts) >= 3, targets


# --- corpus -------------------------------------------------------------------------------------


def read_corpus(path: Path) -> tuple[list[dict], list[tuple[int, str]]]:
    """(valid records, [(line number, problem)]) for the sample corpus."""
    records, bad = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad.append((number, "invalid json"))
            continue
        if not record.get("text"):
            bad.append((number, "empty text"))
            continue
        records.append(record)
    return records, bad


def test_corpus_has_enough_documents_and_exactly_the_documented_bad_lines():
    records, bad = read_corpus(SAMPLE_CORPUS)
    assert len(records) >= 300
    assert bad == [(313, "invalid json"), (314, "empty text")]
    last = SAMPLE_CORPUS.read_text(encoding="utf-8").splitlines()[-1]
    assert json.loads(last)["id"] == "sample-00314"


def test_corpus_records_are_well_formed():
    records, _ = read_corpus(SAMPLE_CORPUS)
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    assert len({r["url"] for r in records}) == len(records)
    for record in records:
        assert set(record) == {"id", "text", "url"}
        assert re.fullmatch(r"sample-\d{5}", record["id"])
        assert record["url"].startswith("https://")
        for markup in ("[[", "]]", "{{", "'''", "<ref", "<!--"):
            assert markup not in record["text"], record["id"]


@pytest.mark.parametrize(
    ("form", "sense_a", "sense_b"),
    [
        ("Paris", "Seine", "Helen"),
        ("Java", "Jakarta", "Gosling"),
        ("Jordan", "Bulls", "Amman"),
        ("Python", "van Rossum", "Apollo"),
        ("Mercury", "Queen", "Sun"),
        ("Amazon", "Bezos", "Brazil"),
    ],
)
def test_corpus_uses_ambiguous_forms_in_both_senses(form, sense_a, sense_b):
    records, _ = read_corpus(SAMPLE_CORPUS)
    with_form = [r["text"] for r in records if contains_word(r["text"], form, ignore_case=False)]
    a = [t for t in with_form if contains_word(t, sense_a)]
    b = [t for t in with_form if contains_word(t, sense_b)]
    assert a and b
    assert not set(a) & set(b)


# --- QA -----------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_qa_pairs_are_valid_nq_open_records():
    pairs = read_jsonl(SAMPLE_QA)
    assert len(pairs) >= 50
    assert len({p["question"] for p in pairs}) == len(pairs)
    for pair in pairs:
        assert set(pair) == {"question", "answer"}
        assert pair["question"].strip()
        assert isinstance(pair["answer"], list) and pair["answer"]
        assert all(isinstance(a, str) and a.strip() for a in pair["answer"])


def test_design_rows_match_qa_pairs_and_name_sample_articles(articles):
    pairs = read_jsonl(SAMPLE_QA)
    design = read_jsonl(SAMPLE_QA_DESIGN)
    assert [d["question"] for d in design] == [p["question"] for p in pairs]
    statuses = {d["status"] for d in design}
    assert statuses == {
        STATUS_COUNTED,
        STATUS_ZERO,
        STATUS_NO_QUESTION_ENTITY,
        STATUS_NO_ANSWER_ENTITY,
    }
    for row in design:
        for title in row["question_entities"] + row["answer_entities"]:
            assert title in articles and not articles[title].is_disambiguation, title
        assert contains_word(row["question"], row["keyword"]), row["question"]
        if row["status"] == STATUS_NO_QUESTION_ENTITY:
            assert row["question_entities"] == []
        else:
            assert row["question_entities"]


def surface_forms(wiki_pages: list[WikiPage]) -> set[str]:
    """Every page title (also without its parenthesised qualifier) and every link anchor."""
    forms = set()
    for page in wiki_pages:
        forms.add(page.title)
        forms.add(re.sub(r" \([^)]*\)$", "", page.title))
        for target, anchor in article_links(page.text):
            forms.update((target, anchor))
    return {f for f in forms if f.strip()}


def test_unlinkable_questions_and_answers_contain_no_wiki_surface_form(wiki_pages):
    forms = surface_forms(wiki_pages)
    pairs = {p["question"]: p["answer"] for p in read_jsonl(SAMPLE_QA)}
    for row in read_jsonl(SAMPLE_QA_DESIGN):
        if row["status"] == STATUS_NO_QUESTION_ENTITY:
            found = [f for f in forms if contains_word(row["question"], f, ignore_case=False)]
            assert found == [], row["question"]
        if row["status"] == STATUS_NO_ANSWER_ENTITY and not row["answer_entities"]:
            aliases = pairs[row["question"]]
            found = [f for f in forms for a in aliases if contains_word(a, f, ignore_case=False)]
            assert found == [], row["question"]


def cooccurrence_bucket(count: int) -> str:
    if count <= 1:
        return str(count)
    return "2-9" if count < 10 else "10+"


def test_question_keyword_and_answer_cooccur_in_the_designed_spread():
    records, _ = read_corpus(SAMPLE_CORPUS)
    texts = [r["text"] for r in records]
    pairs = {p["question"]: p["answer"] for p in read_jsonl(SAMPLE_QA)}
    buckets: dict[str, list[int]] = defaultdict(list)
    for row in read_jsonl(SAMPLE_QA_DESIGN):
        if row["cooccurrence"] is None:
            continue
        aliases = pairs[row["question"]]
        count = sum(
            1
            for text in texts
            if contains_word(text, row["keyword"]) and any(contains_word(text, a) for a in aliases)
        )
        assert cooccurrence_bucket(count) == row["cooccurrence"], (row["question"], count)
        buckets[cooccurrence_bucket(count)].append(count)
    assert len(buckets["0"]) >= 3
    assert len(buckets["1"]) >= 5
    assert len(buckets["2-9"]) >= 10
    assert len(buckets["10+"]) >= 5
    assert max(buckets["10+"]) <= 30


def test_zero_pairs_name_entities_that_exist_apart():
    """Zero pairs are zero because the entities never meet, not because one is unmentioned."""
    records, _ = read_corpus(SAMPLE_CORPUS)
    texts = [r["text"] for r in records]
    pairs = {p["question"]: p["answer"] for p in read_jsonl(SAMPLE_QA)}
    zero_rows = [r for r in read_jsonl(SAMPLE_QA_DESIGN) if r["status"] == STATUS_ZERO]
    keyword_seen = [any(contains_word(t, r["keyword"]) for t in texts) for r in zero_rows]
    answer_seen = [
        any(contains_word(t, a) for t in texts for a in pairs[r["question"]]) for r in zero_rows
    ]
    assert all(keyword_seen)
    # Some answers occur in the corpus without the question entity, some never occur at all.
    assert any(answer_seen) and not all(answer_seen)


# --- paths --------------------------------------------------------------------------------------


def test_sample_paths_point_at_files_inside_the_package():
    for path in (SAMPLE_WIKI, SAMPLE_CORPUS, SAMPLE_QA, SAMPLE_QA_DESIGN):
        assert path.is_file()
        assert path.parent.parent.name == "sample"
    assert sample_path("corpus") == SAMPLE_CORPUS


def test_unknown_sample_name_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown sample 'nope'"):
        sample_path("nope")
