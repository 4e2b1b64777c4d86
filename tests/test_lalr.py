"""bpfc.lalr, the lark-free LALR driver, against lark's own parser over the same grammar.

* Same trees: over every expression of the compile_diff table, the corpus, the syntax tests'
  acceptance and error tables, and hypothesis-drawn token sequences, the driver and lark agree
  on accept/refuse, build the same parse tree (rule names, tokens, source positions) and so the
  same AST, spans included; where they refuse, ``syntax.parse`` reports the very same error
  through the tables as through lark alone.
* The tables cache: written beside lark's cache file, loaded without lark, refused when stale,
  corrupt or exported from another lark cache file.
* A cold ``bpfc -d`` with a warm cache never imports lark.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import lark
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfc import lalr, nodes, syntax
from bpfc.errors import BpfcError
from tests import test_syntax, test_syntax_errors
from tests.conftest import CORPUS
from tests.diffkit import load_table

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lark_parser() -> syntax.LalrParser:
    """lark's parser built from the grammar here and now, independent of any cache."""
    return syntax.LalrParser(syntax._build(syntax._grammar_text()).parser.parser)


@pytest.fixture(scope="module")
def tables(lark_parser: syntax.LalrParser) -> lalr.Tables:
    exported = lalr.export(lark_parser._lalr)
    assert exported is not None, "the grammar's tree building is beyond the driver"
    return exported


def _expressions() -> list[str]:
    texts: list[str] = []
    for row in load_table(REPO / "tests" / "expressions" / "compile_diff.txt"):
        texts.append(row.expr)
        if row.reference is not None:
            texts.append(row.reference)
    corpus = CORPUS / "expressions.txt"
    if corpus.exists():
        texts += [line.strip() for line in corpus.read_text().splitlines() if line.strip()]
    texts += test_syntax.TABLE
    texts += [case[0] for case in test_syntax_errors.CASES]
    return list(dict.fromkeys(texts))


EXPRESSIONS = _expressions()


def _outcome(run: Callable[..., object], *args: object) -> tuple[str, object]:
    """("ok", value) or ("error", (type, message, column, width)) of ``run(*args)``."""
    try:
        return "ok", run(*args)
    except BpfcError as exc:
        return "error", (type(exc).__name__, str(exc), getattr(exc, "column", None),
                         getattr(exc, "width", None))


def _driver_tree(tables: lalr.Tables, text: str) -> object:
    tree = lalr.parse(tables, syntax._scan(text))
    return None if tree is None else lalr.shape(tree)


def _lark_tree(parser: syntax.LalrParser, text: str) -> object:
    try:
        return lalr.shape(lalr.from_lark(parser.parse(text)))
    except lark.exceptions.UnexpectedInput:
        return None


@contextmanager
def _using(parser: syntax.Parser) -> Iterator[None]:
    saved = syntax._parser
    syntax._parser = parser
    try:
        yield
    finally:
        syntax._parser = saved


def _parse_both(text: str, tables: lalr.Tables, lark_parser: syntax.LalrParser,
                ) -> tuple[tuple[str, object], tuple[str, object]]:
    """``syntax.parse``'s outcome through the tables and through lark alone; an AST is
    compared by its repr, which shows every node's span (``==`` ignores spans)."""
    results = []
    for parser in (syntax.Parser(tables, lark_parser), syntax.Parser(None, lark_parser)):
        with _using(parser):
            kind, value = _outcome(syntax.parse, text)
        results.append((kind, repr(value) if kind == "ok" else value))
    return results[0], results[1]


def test_expression_set_is_large_and_mixed(lark_parser: syntax.LalrParser) -> None:
    refused = [t for t in EXPRESSIONS if _outcome(_lark_tree, lark_parser, t)[1] is None]
    assert len(EXPRESSIONS) >= 1000
    assert 100 <= len(refused) <= len(EXPRESSIONS) // 2


@pytest.mark.parametrize("chunk", range(8), ids=lambda i: f"chunk-{i}")
def test_driver_builds_larks_trees(chunk: int, tables: lalr.Tables,
                                   lark_parser: syntax.LalrParser) -> None:
    """Every eighth expression per case (one case per expression would be 1,600 cases)."""
    for text in EXPRESSIONS[chunk::8]:
        expected = _outcome(_lark_tree, lark_parser, text)
        assert _outcome(_driver_tree, tables, text) == expected, text
        ours, lark_only = _parse_both(text, tables, lark_parser)
        assert ours == lark_only, text


# Spellings of every terminal class the scanner produces, and a few things it refuses.
_WORDS = sorted({*syntax.KEYWORDS, "80", "0x10", "010", "4294967296", "10.0.0.1", "10.1",
                 "::1", "fe80::1", "1:2:3:4:5:6", "aa-bb-cc-dd-ee-ff", "$1f", "foo",
                 "http", "1-1000", "\\tcp", "icmp-echo", "tcpflags", "9999999999999",
                 "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "=", "==", "!=", "<",
                 "<=", ">", ">=", "(", ")", "[", "]", ":", "!", "&&", "||", "#", "1:2::3:"})


@settings(max_examples=400)
@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=12))
def test_random_token_sequences_agree(words: list[str]) -> None:
    text = " ".join(words)
    parser, tables = _SHARED.get()
    expected = _outcome(_lark_tree, parser, text)
    assert _outcome(_driver_tree, tables, text) == expected
    ours, lark_only = _parse_both(text, tables, parser)
    assert ours == lark_only


class _Once:
    """One lark parser and its tables for the hypothesis test (function-scoped fixtures do
    not mix with @given, and building lark's parser takes a tenth of a second)."""

    def __init__(self) -> None:
        self._made: tuple[syntax.LalrParser, lalr.Tables] | None = None

    def get(self) -> tuple[syntax.LalrParser, lalr.Tables]:
        if self._made is None:
            parser = syntax.LalrParser(syntax._build(syntax._grammar_text()).parser.parser)
            tables = lalr.export(parser._lalr)
            assert tables is not None
            self._made = parser, tables
        return self._made


_SHARED = _Once()


def test_deep_left_nesting_needs_no_recursion(tables: lalr.Tables) -> None:
    text = " or ".join(["tcp"] * 20000)
    tree = lalr.parse(tables, syntax._scan(text))
    assert isinstance(tree, lalr.Tree)
    assert lalr.shape(tree) is not None
    assert (tree.start_pos, tree.end_pos) == (0, len(text))


# ---------------------------------------------------------------------------------------------
# Export and serialisation.


def test_tables_survive_marshal(tables: lalr.Tables) -> None:
    checked = lalr.Tables(tables.actions, tables.rules, tables.start, tables.end,
                          ("start", 0, 3, (("TCP", "tcp", 0, 3),)))
    again, extra = lalr.Tables.loads(checked.dumps(1234))
    assert extra == 1234
    assert (again.actions, again.rules, again.start, again.end, again.check) == \
        (checked.actions, checked.rules, checked.start, checked.end, checked.check)


@pytest.mark.parametrize("blob", [b"", b"garbage", lalr.Tables((), (), 0, 0).dumps()[:-3],
                                  b"\xe9\x00\x00\x00"], ids=["empty", "text", "cut", "int"])
def test_malformed_tables_are_refused(blob: bytes) -> None:
    with pytest.raises(ValueError):
        lalr.Tables.loads(blob)


@pytest.mark.parametrize(("grammar", "why"), [
    ('start: "(" NUM ")"\nNUM: /[0-9]+/', "an anonymous token is filtered out"),
    ("start: _inner\n_inner: NUM NUM\nNUM: /[0-9]+/", "an inlined _rule"),
], ids=["filtered-token", "inlined-rule"])
def test_export_refuses_tree_building_it_does_not_reproduce(grammar: str, why: str) -> None:
    built = lark.Lark(grammar, parser="lalr", propagate_positions=True)
    assert lalr.export(built.parser.parser) is None, why


def test_export_accepts_what_the_driver_reproduces() -> None:
    built = lark.Lark("start: NUM NUM\nNUM: /[0-9]+/\n%ignore \" \"", parser="lalr",
                      propagate_positions=True)
    assert lalr.export(built.parser.parser) is not None


def test_lark_version_is_read_without_importing_lark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "lark")
    assert syntax._lark_version() == lark.__version__


# ---------------------------------------------------------------------------------------------
# The tables cache, next to lark's.


@pytest.fixture()
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(syntax, "_cache_dirs", lambda: [str(tmp_path)])
    monkeypatch.setattr(syntax, "_parser", None)
    return tmp_path


def _no_lark(grammar: str) -> tuple[syntax.LalrParser, str | None, bytes | None]:
    raise AssertionError("lark's parser should not be needed")


def test_tables_are_saved_beside_larks_cache_and_used(cache: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    syntax.get_parser()
    (lark_file,) = cache.glob("pcap-filter-*.lark-cache")
    (tables_file,) = cache.glob("pcap-filter-*.lalr-tables")
    assert tables_file.name.removesuffix(".lalr-tables") == \
        lark_file.name.removesuffix(".lark-cache")
    monkeypatch.setattr(syntax, "_parser", None)
    monkeypatch.setattr(syntax, "_lark_parser", _no_lark)
    assert syntax.get_parser().tables is not None
    assert syntax.unparse(syntax.parse("tcp port 80 or 443")) == "tcp port 80 or tcp port 443"


@pytest.mark.parametrize("damage", ["garbage", "other-lark-cache", "wrong-check", "missing"])
def test_stale_or_damaged_tables_mean_lark(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                           damage: str) -> None:
    syntax.get_parser()
    (tables_file,) = cache.glob("pcap-filter-*.lalr-tables")
    (lark_file,) = cache.glob("pcap-filter-*.lark-cache")
    if damage == "garbage":
        tables_file.write_bytes(b"garbage")
    elif damage == "other-lark-cache":
        lark_file.write_bytes(lark_file.read_bytes() + b"\0")  # unpickles the same; CRC differs
    elif damage == "wrong-check":
        tables, extra = lalr.Tables.loads(tables_file.read_bytes())
        tables.check = ("start", 0, 3, ())
        tables_file.write_bytes(tables.dumps(extra))
    else:
        lark_file.unlink()
    monkeypatch.setattr(syntax, "_parser", None)
    calls = []
    real = syntax._lark_parser

    def counting(grammar: str) -> tuple[syntax.LalrParser, str | None, bytes | None]:
        calls.append(grammar)
        return real(grammar)

    monkeypatch.setattr(syntax, "_lark_parser", counting)
    assert syntax.parse("udp") == nodes.ProtoAbbrev("udp")
    assert len(calls) == 1
    monkeypatch.setattr(syntax, "_parser", None)
    monkeypatch.setattr(syntax, "_lark_parser", _no_lark)
    assert syntax.get_parser().tables is not None, "the tables were not written again"


def test_untrusted_directory_gives_tables_in_memory(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(syntax, "_cache_dirs", lambda: [str(shared)])
    monkeypatch.setattr(syntax, "_parser", None)
    assert syntax.get_parser().tables is not None
    assert not list(shared.iterdir())


# ---------------------------------------------------------------------------------------------
# The cold start itself.

_PROBE = """
import os, runpy, sys
def leave(code):  # cli.main ends with os._exit; make that an exception this probe can catch
    raise SystemExit(code)
os._exit = leave
sys.argv = ["bpfc", "-d", "tcp port 80"]
try:
    runpy.run_module("bpfc", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    assert not exc.code, exc.code
print(sorted(name for name in sys.modules if name.split(".")[0] == "lark"), file=sys.stderr)
"""


def _probe(cache_home: Path) -> list[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.startswith("(000) ")
    modules = ast.literal_eval(done.stderr.strip().splitlines()[-1])
    assert isinstance(modules, list)
    return modules


def test_warm_cache_dump_does_not_import_lark(tmp_path: Path) -> None:
    home = tmp_path / "cache"
    home.mkdir(mode=0o700)
    assert _probe(home), "the first run builds the caches with lark"
    assert _probe(home) == []
