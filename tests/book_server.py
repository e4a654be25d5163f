"""Helpers of the browser test: serve `_build/html` on 127.0.0.1 and answer the pages' CDN requests
from local copies of the same scripts (npm packages), so the test runs offline on the real code.

    python tests/book_server.py fetch    # download the npm packages into the cache (CI: .ci/system-deps.sh)
    python tests/book_server.py serve    # serve the built book on http://127.0.0.1:8000 (manual look)
"""
from __future__ import annotations

import functools
import http.server
import mimetypes
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))  # BOOK_HTML: another build
OUTPUT = ROOT / ".test-output"
CACHE = OUTPUT / "cdn-cache"          # git-ignored; one folder per package spec, e.g. mathjax@3/

# npm packages whose files the built pages request from a CDN (spec as it appears in the URL).
NPM_PACKAGES = [
    "mathjax@3",                            # _config.yml mathjax_path (jsdelivr)
    "requirejs@2.3.6",                      # _config.yml html_js_files (cdnjs), bertviz's loader
    "requirejs@2.3.4",                      # myst-nb's loader for ipywidgets (cdnjs)
    "d3@5.7.0",                             # bertviz (cdnjs, through require.js)
    "jquery@2.1.0",                         # bertviz asks cdnjs for jquery 2.0.0, not on npm: see CDNJS
    "@jupyter-widgets/html-manager@1.0.6",  # myst-nb's widget embedder (jsdelivr)
]
# sphinx-thebe's thebe@0.8.2 (unpkg) loads only when a reader clicks "live code"; the test never does.

# cdnjs library -> (npm package spec in NPM_PACKAGES, folder of the file inside the package).
# jquery 2.0.0 was never published to npm; 2.1.0 (same 2.x API) stands in for it.
CDNJS = {
    ("require.js", "2.3.6"): ("requirejs@2.3.6", ""),
    ("require.js", "2.3.4"): ("requirejs@2.3.4", ""),
    ("d3", "5.7.0"): ("d3@5.7.0", "dist/"),
    ("jquery", "2.0.0"): ("jquery@2.1.0", "dist/"),
}


def package_dir(spec: str) -> Path:
    """Folder holding the unpacked npm package `spec` (name@version) in the cache."""
    return CACHE / spec.replace("/", "__")


def fetch_assets(specs: list[str] | None = None, quiet: bool = True) -> list[str]:
    """Download and unpack every npm package not yet in the cache (with `npm pack`); returns specs fetched."""
    todo = [s for s in (specs or NPM_PACKAGES) if not (package_dir(s) / "package.json").is_file()]
    if not todo:
        return []
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed once to fetch the browser test's local copies of CDN scripts "
                           f"({', '.join(todo)}): install Node.js/npm (apt-get install npm), "
                           "or run `python tests/book_server.py fetch` on a machine that has it.")
    CACHE.mkdir(parents=True, exist_ok=True)
    for spec in todo:
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            out = subprocess.run([npm, "pack", spec, "--loglevel=error", "--pack-destination", tmp],
                                 capture_output=True, text=True, timeout=300)
            tgz = list(Path(tmp).glob("*.tgz"))
            if out.returncode != 0 or not tgz:
                raise RuntimeError(f"`npm pack {spec}` failed: {out.stderr.strip()[-500:]}")
            with tarfile.open(tgz[0]) as tar:
                tar.extractall(tmp, filter="data")
            dest = package_dir(spec)
            shutil.rmtree(dest, ignore_errors=True)
            (Path(tmp) / "package").rename(dest)
        if not quiet:
            print(f"fetched {spec} -> {package_dir(spec)}")
    return todo


def _in_package(spec: str, rel: str) -> Path | None:
    base = package_dir(spec).resolve()
    path = (base / rel).resolve()
    if base not in path.parents:
        return None
    for candidate in (path, path.with_name(path.name + ".js")):   # require.js drops ".js" from names
        if candidate.is_file():
            return candidate
    if path.name.endswith(".min.js"):  # a package that ships only the unminified file
        plain = path.with_name(path.name[: -len(".min.js")] + ".js")
        if plain.is_file():
            return plain
    return None


_NPM_CDN = re.compile(r"^/(?:npm/)?(?P<name>(?:@[^/]+/)?[^/@]+)@(?P<ver>[^/]+)/(?P<path>.*)$")


def local_copy(url: str) -> Path | None:
    """The cached file that stands in for a CDN URL (jsdelivr, unpkg, cdnjs), or None if unknown."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.hostname in ("cdn.jsdelivr.net", "unpkg.com"):
        m = _NPM_CDN.match(path)
        if not m or (parts.hostname == "cdn.jsdelivr.net" and not path.startswith("/npm/")):
            return None
        return _in_package(f"{m['name']}@{m['ver']}", m["path"])
    if parts.hostname == "cdnjs.cloudflare.com":
        m = re.match(r"^/ajax/libs/(?P<lib>[^/]+)/(?P<ver>[^/]+)/(?P<file>.+)$", path)
        if not m or (m["lib"], m["ver"]) not in CDNJS:
            return None
        spec, folder = CDNJS[(m["lib"], m["ver"])]
        name = m["file"]
        if m["lib"] == "require.js":
            name = name.replace("require.min", "require")
        return _in_package(spec, folder + name)
    return None


def strip_cdn_integrity(html: str) -> str:
    """Drop `integrity` from tags that load from another host: the local stand-ins (npm builds, not
    cdnjs's own minified bytes) cannot match a CDN file's hash, the real CDN file does."""
    def fix(m: re.Match) -> str:
        tag = m.group(0)
        if re.search(r'\s(?:src|href)="https?://', tag):
            tag = re.sub(r'\sintegrity="[^"]*"', "", tag)
        return tag
    return re.sub(r"<(?:script|link)\b[^>]*>", fix, html)


def content_type(path: Path) -> str:
    """MIME type to serve a local file with (JavaScript for extension-less require.js modules)."""
    if path.suffix in (".js", ".mjs", ""):
        return "application/javascript"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class BookServer:
    """The built book on http://127.0.0.1:<free port>/, served from a thread (a context manager)."""

    def __init__(self, root: Path = HTML, port: int = 0):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "BookServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else ""
    if cmd == "fetch":
        fetched = fetch_assets(quiet=False)
        print(f"CDN copies in {CACHE}: {len(NPM_PACKAGES)} packages ({len(fetched)} fetched now)")
        return 0
    if cmd == "serve":
        server = BookServer(port=8000)
        print(f"serving {HTML} on {server.url} (Ctrl-C to stop)")
        server.httpd.serve_forever()
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
