"""Parsing's entry point and parser glue: pcap-filter text -> ``nodes.Expr``.

Stage 1: parsing. Input: a filter expression as tcpdump takes it; output: the AST of
``bpfc.nodes`` with a source ``span`` on every node (``parse``). The language is libpcap's
(grammar.y.in and scanner.l, libpcap 1.10, plus ``vxlan``, ``batadv`` and ``ifindex`` from
1.11), and so is the outcome: a string that libpcap's parser rejects raises
``FilterSyntaxError``; the checks libpcap's grammar actions make (802.11 type values, ``port``
applied to an IP address, numbers over 32 bits, ...) raise ``FilterSemanticError``. Names are
not resolved here; lowering does that.

This module is the parser glue; the other parts of the stage live beside it, in pipeline order:

* ``bpfc.scanner`` cuts the text into tokens as libpcap's flex scanner does;
* the **parser** (here) is lark's LALR(1) over ``grammar/pcap-filter.lark``, built once and
  cached on disk (keyed by a hash of the grammar and the lark version). Its tables are exported
  beside that cache as plain data, and ``bpfc.lalr`` drives them, so a process whose filter
  parses never imports lark (a fifth of a cold ``bpfc -d``); a filter the tables refuse goes to
  lark, whose exception ``bpfc.diagnostics`` (loaded only then) turns into a
  ``FilterSyntaxError`` with a caret and a hint;
* ``bpfc.astbuild`` walks the parse tree into the AST with libpcap's inherited qualifiers.

``unparse`` (``bpfc.unparse``, loaded on first use) prints an AST back as canonical
pcap-filter text that parses to the same AST. ``KEYWORDS``, ``NAMED_CONSTANTS`` and
``number_value`` are the scanner's, re-exported.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Final

from bpfc import astbuild, lalr, nodes
from bpfc.errors import FilterSyntaxError
from bpfc.scanner import KEYWORDS, NAMED_CONSTANTS, number_value
from bpfc.scanner import scan as _scan

if TYPE_CHECKING:
    from collections.abc import Iterator

    import lark

    from bpfc.unparse import unparse

__all__ = ["KEYWORDS", "NAMED_CONSTANTS", "get_parser", "number_value", "parse", "unparse"]

# =============================================================================================
# lark's side: the flex-like scanner as a lark lexer.


def _flex_lexer() -> type[Any]:
    """``FlexLexer``: an adapter that feeds the scanner's tokens to lark's LALR parser, as lark's
    own ``Token``s. Defined on first use, because subclassing lark's ``Lexer`` imports lark."""
    global _FLEX_LEXER
    if _FLEX_LEXER is not None:
        return _FLEX_LEXER
    from lark.lexer import Lexer, LexerState
    from lark.lexer import Token as LarkToken

    class FlexLexer(Lexer):
        __future_interface__ = 2  # lark: call lex(lexer_state, parser_state) directly

        def __init__(self, lexer_conf: Any) -> None:
            del lexer_conf  # terminals are all %declare'd; the scanner knows them

        def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[LarkToken]:
            del parser_state
            text = lexer_state.text
            for t in _scan(text.text if hasattr(text, "text") else str(text)):
                yield LarkToken(t.type, t.value, start_pos=t.start_pos, line=1,
                                column=t.start_pos + 1, end_line=1, end_column=t.end_pos + 1,
                                end_pos=t.end_pos)

    _FLEX_LEXER = FlexLexer
    return FlexLexer


_FLEX_LEXER: type[Any] | None = None


def __getattr__(name: str) -> Any:
    """``FlexLexer`` and ``unparse``, made on first use: neither is on a cold start's path."""
    if name == "FlexLexer":
        return _flex_lexer()
    if name == "unparse":
        from bpfc.unparse import unparse

        return unparse
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# =============================================================================================
# The parser: plain LALR tables (bpfc.lalr) on the way that succeeds, lark's parser to diagnose
# errors; both built once per process and cached on disk across processes.

_CACHE_FORMAT = "3"


class LalrParser:
    """lark's LALR(1) parser proper, fed by ``_scan``; returns lark's tree.

    A cached parser is lark's ``LALR_Parser`` object pickled whole: unpickling it takes ~2 ms,
    where ``Lark.load`` spends ~15 ms re-deserialising the same tables. The cache key includes
    lark's version, and anything unexpected in a cache file just means rebuilding.
    """

    def __init__(self, lalr: Any) -> None:
        self._lalr = lalr
        self._lexer = _flex_lexer()(None)

    def parse(self, text: str) -> Any:
        from lark.lexer import LexerThread

        return self._lalr.parse(LexerThread.from_text(self._lexer, text), "start")


class Parser:
    """The parser ``parse`` uses: ``bpfc.lalr``'s driver over plain tables when they are at
    hand, lark's parser otherwise and for every string the tables refuse, so that a syntax error
    reads exactly as lark's exception lets ``bpfc.diagnostics`` diagnose it. lark is imported
    only then.
    """

    def __init__(self, tables: lalr.Tables | None, fallback: LalrParser | None = None) -> None:
        self.tables = tables
        self._lark = fallback

    def parse(self, text: str) -> lalr.Tree:
        if self.tables is not None:
            tree = lalr.parse(self.tables, _scan(text))
            if isinstance(tree, lalr.Tree):
                return tree
        return self._lark_parse(text)

    def _lark_parse(self, text: str) -> lalr.Tree:
        from lark.exceptions import UnexpectedInput

        if self._lark is None:
            self._lark = _lark_parser(_grammar_text())[0]
        try:
            tree = lalr.from_lark(self._lark.parse(text))
        except UnexpectedInput as exc:
            from bpfc.diagnostics import explain  # the error path only

            raise explain(text, exc) from None
        assert isinstance(tree, lalr.Tree), tree
        return tree


_parser: Parser | None = None
_SELF_CHECK: Final = "tcp port 80 or (443) and not len % 4 + 1 = 0 or vpi (1 or 2)"
"""Stored with its parse tree in both caches: a loaded parser must parse it the same way."""


def _grammar_text() -> str:
    """The grammar from the installed package (``bpfc.grammar``) or from the source tree.

    Found through the ``bpfc.grammar`` package's own file (a wheel and an editable install both
    map it), not ``importlib.resources``, whose imports cost a cold start several milliseconds.
    """
    try:
        import importlib

        package = importlib.import_module("bpfc.grammar")  # grammar/ mapped into the package
        path = os.path.join(os.path.dirname(package.__file__ or ""), "pcap-filter.lark")
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (ImportError, OSError):
        here = os.path.dirname(os.path.realpath(__file__))
        with open(os.path.join(here, os.pardir, "grammar", "pcap-filter.lark"),
                  encoding="utf-8") as f:
            return f.read()


def _cache_dirs() -> list[str]:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    tmp = os.environ.get("TMPDIR") or "/tmp"
    return [os.path.join(base, "bpfc"), os.path.join(tmp, f"bpfc-{os.getuid()}")]


def _private(directory: str) -> bool:
    """Only trust (unpickle from) a directory that is ours and that nobody else can write:
    the fallback lives in a shared temporary directory."""
    try:
        st = os.stat(directory)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _build(grammar: str) -> lark.Lark:
    import lark

    return lark.Lark(grammar, parser="lalr", lexer=_flex_lexer(), propagate_positions=True,
                     maybe_placeholders=False)


def _lark_version() -> str | None:
    """lark's version without importing lark (a cold start's largest single cost), for the
    cache key: read from its ``__init__.py``. None if that cannot be done, which only means
    importing lark to ask it."""
    module = sys.modules.get("lark")
    if module is not None:
        return str(module.__version__)
    import importlib.util

    try:
        spec = importlib.util.find_spec("lark")
        if spec is None or not spec.origin:
            return None
        with open(spec.origin, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (ImportError, ValueError, OSError):
        return None
    for line in lines:  # `__version__: str = "1.3.1"`
        name, equals, value = line.partition("=")
        if name.split(":")[0].strip() == "__version__" and equals:
            value = value.strip()
            if len(value) > 2 and value[0] == value[-1] and value[0] in "'\"":
                return value[1:-1]
    return None


def _cache_name(grammar: str, lark_version: str) -> str:
    """The cache files' common stem. Two 32-bit checksums name it (hashlib's OpenSSL import
    alone costs ~2 ms); a collision would only load a parser that fails its self-check."""
    import zlib

    key = f"{grammar}\0{lark_version}\0{sys.version}\0{_CACHE_FORMAT}".encode()
    return f"pcap-filter-{zlib.crc32(key):08x}{zlib.adler32(key):08x}"


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _load_tables(stem: str) -> lalr.Tables | None:
    """The plain tables from a trusted cache directory, if they are there, were exported from
    the lark cache file beside them as it is now (its CRC is stored with them, so a lark cache
    that was rebuilt or replaced takes its tables with it), and still parse the self-check."""
    import zlib

    for directory in _cache_dirs():
        if not _private(directory):
            continue
        blob = _read(os.path.join(directory, stem + ".lalr-tables"))
        lark_blob = _read(os.path.join(directory, stem + ".lark-cache"))
        if blob is None or lark_blob is None:
            continue
        try:
            tables, lark_crc = lalr.Tables.loads(blob)
            if lark_crc != zlib.crc32(lark_blob):
                continue
            tree = lalr.parse(tables, _scan(_SELF_CHECK))
            if tree is not None and lalr.shape(tree) == tables.check:
                return tables
        except Exception:  # noqa: BLE001, S112 - a bad cache file only means rebuilding
            continue
    return None


def _lark_parser(grammar: str) -> tuple[LalrParser, str | None, bytes | None]:
    """lark's parser, unpickled from the on-disk cache when its key matches, else built (about
    70 ms) and saved; an unwritable or untrusted cache directory just means building. Also
    returns the cache directory and file contents it came from or went to (None if neither)."""
    import pickle

    import lark

    stem = _cache_name(grammar, lark.__version__)
    for directory in _cache_dirs():
        if not _private(directory):
            continue
        blob = _read(os.path.join(directory, stem + ".lark-cache"))
        if blob is None:
            continue
        try:
            lalr_parser, check_tree = pickle.loads(blob)
            loaded = LalrParser(lalr_parser)
            if loaded.parse(_SELF_CHECK) != check_tree:
                continue
            return loaded, directory, blob
        except Exception:  # noqa: BLE001, S112 - a bad cache file only means rebuilding
            continue
    built = LalrParser(_build(grammar).parser.parser)
    blob = _dumps((built._lalr, built.parse(_SELF_CHECK)))
    where = _save(stem + ".lark-cache", blob)
    return built, where, blob if where is not None else None


def _save(name: str, blob: bytes, directory: str | None = None) -> str | None:
    """Write ``blob`` atomically into ``directory`` or the first trusted cache directory that
    takes it; returns the directory, or None if none did."""
    for candidate in _cache_dirs() if directory is None else [directory]:
        try:
            os.makedirs(candidate, mode=0o700, exist_ok=True)
            if not _private(candidate):
                continue
            import tempfile

            fd, tmp = tempfile.mkstemp(dir=candidate, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, os.path.join(candidate, name))  # atomic for concurrent readers
            return candidate
        except OSError:
            continue
    return None


def get_parser() -> Parser:
    """The parser: plain tables when the cache has them (no lark import), else lark's parser,
    loaded or built, with the tables exported from it and saved beside its cache file."""
    global _parser
    if _parser is not None:
        return _parser
    grammar = _grammar_text()
    version = _lark_version()
    tables = _load_tables(_cache_name(grammar, version)) if version is not None else None
    if tables is not None:
        _parser = Parser(tables)
        return _parser
    import zlib

    fallback, directory, lark_blob = _lark_parser(grammar)
    tables = lalr.export(fallback._lalr)
    if tables is not None:
        tables.check = lalr.shape(lalr.from_lark(fallback.parse(_SELF_CHECK)))
        tree = lalr.parse(tables, _scan(_SELF_CHECK))
        if tree is None or lalr.shape(tree) != tables.check:
            tables = None  # lark builds trees in a way the driver does not: use lark alone
    if tables is not None and directory is not None and lark_blob is not None:
        import lark

        stem = _cache_name(grammar, lark.__version__)
        _save(stem + ".lalr-tables", tables.dumps(zlib.crc32(lark_blob)), directory)
    _parser = Parser(tables, fallback)
    return _parser


def _dumps(value: Any) -> bytes:
    """Pickle lark's parser, keeping its ``Shift``/``Reduce`` singletons (compared with ``is``)
    as references to lark's module globals rather than copies."""
    import io
    import pickle

    from lark.parsers.lalr_analysis import Action

    class Pickler(pickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, Action):
                return obj.name  # a global of lark.parsers.lalr_analysis: Shift or Reduce
            return NotImplemented

    buffer = io.BytesIO()
    Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def parse(text: str) -> nodes.Expr:
    """Parse a pcap-filter expression; raise ``FilterSyntaxError`` or ``FilterSemanticError``."""
    if not text.strip():
        return nodes.Empty(span=(0, len(text)))
    try:
        return astbuild.build(text, get_parser().parse(text))
    except RecursionError:
        raise FilterSyntaxError("expression nested too deeply", text, 0, len(text)) from None
