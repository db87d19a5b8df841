"""`longtail model fetch`: Spotlight's four wikistats files of one language and release,
downloaded from DBpedia (or a mirror with the same layout), checked, and imported.

DBpedia publishes them on the Databus, artifact `dbpedia/spotlight/spotlight-wikistats`, as
`BASE/RELEASE/spotlight-wikistats_type=NAME_lang=LANG.tsv.bz2` with a sha256 and a size per
file. Without `--base-url` the Databus is asked (SPARQL) for the newest release (or the one
named) and for each file's URL, sha256 and size; with `--base-url` the Databus is not asked:
checksums come from `--sha256 NAME=HEX` or a `SHA256SUMS` file beside the files, and a line
says when none could be checked.

Downloads go to a folder beside MODEL (or `--keep-wikistats DIR`), each to `NAME.tsv.bz2.part`
first: an interrupted download resumes there with an HTTP Range request (`If-Range` the ETag it
started with, so a file replaced in between starts over), then the whole file's sha256 is
checked and a mismatch refused in one line (the bad file is deleted). The files stay
compressed: the import decompresses them as it reads, line by line, so neither the 10 GB
tokenCounts nor any other file is ever whole in memory or on disk uncompressed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from longtail.errors import UsageError
from longtail.linking.statistical.wikistats import (
    PAIR_COUNTS,
    SF_AND_TOTAL_COUNTS,
    TOKEN_COUNTS,
    URI_COUNTS,
)
from longtail.output.checksums import file_sha256
from longtail.output.http import (
    HTTP_ATTEMPTS,
    READ_ERRORS,
    HttpUnavailable,
    request,
    stat_url,
    status_error,
)

NAMES = (URI_COUNTS, PAIR_COUNTS, SF_AND_TOTAL_COUNTS, TOKEN_COUNTS)
DATABUS_SPARQL = "https://databus.dbpedia.org/sparql"
ARTIFACT = "https://databus.dbpedia.org/dbpedia/spotlight/spotlight-wikistats"
DOWNLOAD_BASE = "https://downloads.dbpedia.org/repo/dbpedia/spotlight/spotlight-wikistats"
CHECKSUMS_FILE = "SHA256SUMS"
CHUNK = 1 << 20
# Estimates for what is printed and checked before a fetch, from the full-size English import
# measured in the README (8.5 GB of wikistats: 3.17 GiB model, 6.5 GB of scratch context
# files, peak 8.23 GiB of memory); bzip2 takes TSV of words and counts to about a quarter.
BZ2_RATIO = 4.0
IMPORT_DISK_PER_BYTE = 1.15
IMPORT_MEMORY_PER_BYTE = 0.97
_RELEASE = re.compile(r"^\d{4}\.\d{2}\.\d{2}$")
_LANG = re.compile(r"^[a-z]{2,3}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class RemoteFile:
    name: str  # uriCounts, pairCounts, ...
    url: str
    sha256: str | None
    size: int | None
    checksum_from: str | None  # where the sha256 comes from, for messages


def file_name(name: str, lang: str) -> str:
    """The name DBpedia gives one wikistats file."""
    return f"spotlight-wikistats_type={name}_lang={lang}.tsv.bz2"


def local_name(name: str) -> str:
    """The name a fetched file is kept under (what `model import` looks for)."""
    return f"{name}.tsv.bz2"


# -- where the files are ----------------------------------------------------------------------


def databus_files(lang: str, release: str | None, endpoint: str = DATABUS_SPARQL
                  ) -> tuple[str, list[RemoteFile]]:
    """The release (the newest with all four files when `release` is None) and its files, as
    the Databus lists them."""
    version_filter = f'FILTER(str(?version) = "{release}")' if release else ""
    query = f"""PREFIX databus: <https://dataid.dbpedia.org/databus#>
PREFIX dcv: <https://dataid.dbpedia.org/databus-cv#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX dcat: <http://www.w3.org/ns/dcat#>
SELECT ?version ?type ?url ?sha256 ?size WHERE {{ GRAPH ?g {{
  ?dataset databus:artifact <{ARTIFACT}> .
  ?dataset dct:hasVersion ?version .
  ?dataset dcat:distribution ?distribution .
  ?distribution dcv:lang ?lang . FILTER(str(?lang) = "{lang}")
  ?distribution dcv:type ?type .
  ?distribution dcat:downloadURL ?url .
  OPTIONAL {{ ?distribution databus:sha256sum ?sha256 . }}
  OPTIONAL {{ ?distribution dcat:byteSize ?size . }}
  {version_filter}
}} }}"""
    try:
        response = request("POST", endpoint, {"Accept": "application/sparql-results+json"},
                           data={"query": query})
        if not response.ok:
            raise status_error(endpoint, response)
        bindings = response.json()["results"]["bindings"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UsageError(f"cannot ask the DBpedia Databus ({endpoint}): {reason}; name a "
                         f"--release and pass --base-url {DOWNLOAD_BASE} to download without "
                         "it (its checksums are then not checked)") from None
    releases: dict[str, dict[str, RemoteFile]] = {}
    for row in bindings:
        value = {key: cell.get("value") for key, cell in row.items()}
        if value.get("type") not in NAMES or not value.get("url") or not value.get("version"):
            continue
        sha = (value.get("sha256") or "").lower() or None
        size = value.get("size")
        releases.setdefault(value["version"], {})[value["type"]] = RemoteFile(
            value["type"], value["url"], sha if sha and _HEX.match(sha) else None,
            int(float(size)) if size else None, "the Databus" if sha else None)
    complete = sorted(v for v, files in releases.items() if len(files) == len(NAMES))
    if not complete:
        which = f"release {release}" if release else "any release"
        listed = ", ".join(sorted(releases)) or "none"
        raise UsageError(f"the Databus lists no complete wikistats for language {lang!r} in "
                         f"{which} (releases with some of its files: {listed})")
    chosen = complete[-1]
    return chosen, [releases[chosen][name] for name in NAMES]


def mirror_files(base: str, release: str, lang: str, sha256: dict[str, str]
                 ) -> list[RemoteFile]:
    """The files under a mirror with DBpedia's layout; checksums from `sha256` (by NAME) or
    the mirror's SHA256SUMS, when it has one."""
    folder = f"{base.rstrip('/')}/{release}"
    listed = _checksums_file(f"{folder}/{CHECKSUMS_FILE}")
    files = []
    for name in NAMES:
        remote = file_name(name, lang)
        given = sha256.get(name) or sha256.get(remote)
        found = listed.get(remote)
        sha, source = (given, "--sha256") if given else (found, CHECKSUMS_FILE) if found \
            else (None, None)
        files.append(RemoteFile(name, f"{folder}/{remote}", sha, None, source))
    return files


def _checksums_file(url: str) -> dict[str, str]:
    """`sha256sum`'s output (`HEX  NAME` or `HEX *NAME` per line) by file name; empty when
    there is no such file."""
    response = request("GET", url)
    if response.status_code in (403, 404, 410):
        return {}
    if not response.ok:
        raise status_error(url, response)
    found = {}
    for line in response.text.splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2 and _HEX.match(parts[0].lower()):
            found[parts[1].lstrip("*").strip()] = parts[0].lower()
    return found


def parse_sha256_flags(values: list[str]) -> dict[str, str]:
    found = {}
    for value in values:
        name, sep, digest = value.partition("=")
        if not sep or not _HEX.match(digest.strip().lower()):
            raise UsageError(f"--sha256 takes NAME=HEX (64 hex digits), not {value!r}")
        found[name.strip()] = digest.strip().lower()
    return found


# -- downloading ------------------------------------------------------------------------------


def download(remote: RemoteFile, folder: Path, progress: Progress) -> Path:
    """`remote` in `folder`, complete and checked: kept from an earlier call, resumed from its
    `.part`, or downloaded; a checksum mismatch deletes it and stops with one line."""
    final = folder / local_name(remote.name)
    if final.exists():
        if file_sha256(final) == remote.sha256 or remote.sha256 is None and (
                remote.size is None or final.stat().st_size == remote.size):
            progress.say(f"{remote.name}: already downloaded ({final.stat().st_size:,} bytes)")
            return final
        final.unlink()  # not what is published now: download it again
    part = folder / (final.name + ".part")
    meta_path = folder / (final.name + ".part.json")
    found = stat_url(remote.url)
    if found is None:
        raise UsageError(f"{remote.url}: HTTP 404 Not Found (is {remote.name} published for "
                         "this language and release?)")
    meta = _read_json(meta_path)
    if part.exists() and (meta.get("url") != remote.url or meta.get("etag") != found.etag
                          or part.stat().st_size > found.size):
        part.unlink()  # another file, or the file changed since: start over
    meta_path.write_text(json.dumps({"url": remote.url, "etag": found.etag,
                                     "size": found.size}), encoding="utf-8")
    digest = hashlib.sha256()
    have = part.stat().st_size if part.exists() else 0
    if have:
        _hash_into(digest, part)
        progress.say(f"{remote.name}: resuming at byte {have:,} of {found.size:,}")
    progress.start(remote.name, found.size, have)
    failures = 0
    with open(part, "ab") as out:
        while have < found.size:
            try:
                have = _receive(remote.url, found.etag, have, out, digest, progress)
            except _StartOver:
                out.truncate(0)
                out.seek(0)
                digest, have = hashlib.sha256(), 0
            except HttpUnavailable as err:
                progress.done()
                raise _stopped(remote, out.tell(), found.size, err) from None
            except READ_ERRORS as err:  # the connection dropped mid-file: go on from there
                failures = 1 if out.tell() > have else failures + 1
                have = out.tell()
                if failures >= HTTP_ATTEMPTS:
                    progress.done()
                    raise _stopped(remote, have, found.size, err) from None
                time.sleep(min(0.5 * 2 ** failures, 8))
            except OSError as err:  # refused (403, 404, ...) after it started
                progress.done()
                raise _stopped(remote, out.tell(), found.size, err) from None
    progress.done()
    actual = digest.hexdigest()
    if remote.sha256 is not None and actual != remote.sha256:
        part.unlink()
        meta_path.unlink(missing_ok=True)
        raise UsageError(f"{remote.name}: sha256 {actual} is not the {remote.sha256} that "
                         f"{remote.checksum_from} lists for {remote.url}; the file was deleted, "
                         "run the command again to download it anew")
    os.replace(part, final)
    meta_path.unlink(missing_ok=True)
    return final


def _stopped(remote: RemoteFile, have: int, size: int, err: BaseException) -> UsageError:
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return UsageError(f"the download of {remote.name} stopped at byte {have:,} of {size:,} "
                      f"({reason}); run the same command again to resume it")


class _StartOver(Exception):
    """The server sent the whole file instead of the rest."""


def _receive(url: str, etag: str | None, have: int, out, digest, progress: Progress) -> int:
    headers = {"Range": f"bytes={have}-"}
    if etag:
        headers["If-Range"] = etag
    response = request("GET", url, headers, stream=True)
    try:
        if response.status_code == 200 and have:
            raise _StartOver
        if response.status_code not in (200, 206):
            raise status_error(url, response)
        for chunk in response.raw.stream(CHUNK, decode_content=False):
            out.write(chunk)
            digest.update(chunk)
            have += len(chunk)
            progress.advance(len(chunk))
        return have
    finally:
        response.close()


def _hash_into(digest, path: Path) -> None:
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class Progress:
    """A progress bar on a terminal, a line per file and per tenth elsewhere."""

    def __init__(self, say: Callable[[str], None]):
        self.say = say
        self._bar = None
        self._name, self._total, self._done, self._shown = "", 0, 0, 0

    def start(self, name: str, total: int, done: int) -> None:
        self._name, self._total, self._done, self._shown = name, total, done, done
        if sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.progress import Progress as Bar

            self._bar = Bar("{task.description}", BarColumn(), DownloadColumn(),
                            TransferSpeedColumn(), TimeRemainingColumn(), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(name, total=total, completed=done)
        else:
            self.say(f"{name}: downloading {total - done:,} bytes")

    def advance(self, n: int) -> None:
        self._done += n
        if self._bar is not None:
            self._bar.update(self._task, completed=self._done)
        elif self._total and self._done - self._shown >= self._total / 10:
            self._shown = self._done
            self.say(f"{self._name}: {self._done / self._total:.0%}")

    def done(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# -- the command ------------------------------------------------------------------------------


def fetch_model(out: str | Path, lang: str = "en", release: str | None = None,
                base_url: str | None = None, keep_wikistats: str | Path | None = None,
                sha256: dict[str, str] | None = None, databus: str = DATABUS_SPARQL,
                overwrite: bool = False, say: Callable[[str], None] = print,
                **import_options) -> dict:
    """Download, check and import one language's wikistats into the model folder `out`;
    returns the import's report with what was fetched."""
    from longtail.linking.statistical.importer import import_wikistats

    if not _LANG.match(lang):
        raise UsageError(f"--lang takes a Wikipedia language code (en, de, pt, ...), not "
                         f"{lang!r}")
    if release is not None and not _RELEASE.match(release):
        raise UsageError(f"--release takes a Databus version such as 2022.03.01, not "
                         f"{release!r}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise UsageError(f"output folder exists and is not empty: {out} (choose another, or "
                         "--overwrite)")
    if base_url:
        if release is None:
            raise UsageError("--base-url needs --release: a mirror cannot be asked which "
                             "releases it has")
        files = mirror_files(base_url, release, lang, sha256 or {})
        source = base_url
    else:
        if sha256:
            raise UsageError("--sha256 goes with --base-url: without it the checksums come "
                             "from the Databus")
        release, files = databus_files(lang, release, databus)
        source = databus
    folder = Path(keep_wikistats) if keep_wikistats else \
        out.parent / f".{out.name}.wikistats-{lang}-{release}"
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        sizes = [f.size if f.size is not None else _size(f.url) for f in files]
        _check_room(files, sizes, folder, out, say)
        unchecked = [f.name for f in files if f.sha256 is None]
        if unchecked:
            say(f"no sha256 to check {', '.join(unchecked)} against (pass --sha256 NAME=HEX, "
                f"or put a {CHECKSUMS_FILE} beside the files)")
        progress = Progress(say)
        for remote in files:
            download(remote, folder, progress)
    except OSError as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UsageError(f"cannot download the wikistats: {reason}") from None
    seconds = round(time.perf_counter() - started, 1)
    say(f"wikistats {lang} {release}: {sum(sizes):,} bytes in {folder} "
        f"({len(files) - len(unchecked)} of {len(files)} sha256 checked) in {seconds} s")
    report = import_wikistats(folder, out, progress=say, overwrite=overwrite, **import_options)
    if keep_wikistats is None:
        shutil.rmtree(folder, ignore_errors=True)
    report.update({"release": release, "lang": lang, "source": source,
                   "downloaded_bytes": sum(sizes), "download_seconds": seconds})
    return report


def _size(url: str) -> int:
    found = stat_url(url)
    if found is None:
        raise UsageError(f"{url}: HTTP 404 Not Found (is it published for this language and "
                         "release?)")
    return found.size


def _check_room(files: list[RemoteFile], sizes: list[int], folder: Path, out: Path,
                say: Callable[[str], None]) -> None:
    """Print the disk and memory a fetch needs; refuse when the disk has not room for it."""
    here = sum(_already(folder, f.name) for f in files)
    compressed = sum(sizes)
    wikistats = compressed * BZ2_RATIO
    import_disk = wikistats * IMPORT_DISK_PER_BYTE
    memory = wikistats * IMPORT_MEMORY_PER_BYTE
    need = compressed - here + import_disk
    say(f"model fetch: {len(files)} files, {_gb(compressed)} compressed ({_gb(here)} already "
        f"downloaded), about {_gb(wikistats)} of wikistats; needs about {_gb(need)} free on "
        f"disk (the downloads, then the model and the import's scratch files) and about "
        f"{_gib(memory)} of memory for the import")
    free = shutil.disk_usage(_existing(out.parent if out.parent != Path("") else Path("."))).free
    if need > free:
        raise UsageError(f"not enough free disk: the fetch and import need about {_gb(need)}, "
                         f"{_existing(out.parent)} has {_gb(free)} free")
    available = _memory_available()
    if available is not None and memory > available:
        say(f"warning: the import needs about {_gib(memory)} of memory and "
            f"{_gib(available)} is available now; it may be killed if nothing is freed")


def _already(folder: Path, name: str) -> int:
    for path in (folder / local_name(name), folder / (local_name(name) + ".part")):
        if path.exists():
            return path.stat().st_size
    return 0


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _memory_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.1f} MB" if n >= 1e5 else \
        f"{n:,.0f} bytes"


def _gib(n: float) -> str:
    return f"{n / 2**30:,.2f} GiB"
