"""The ``bpfc`` command line, tcpdump's flags with tcpdump's meanings.

    bpfc [-d | -dd | -ddd] [-O] [-y LINKTYPE] [-s SNAPLEN] [-F FILE] [--netmask MASK] [expression]
    bpfc [--dump-after PASS]... [--dot FILE] [expression]   (the CFG after lowering/each pass)
    bpfc -r FILE [-w OUT] [-c COUNT] [-n] [-e] [-q] [-v] [--count] [expression]   (bpfc.offline)
    bpfc -i IFACE [-w OUT] [-c COUNT] [-p] [-Q in|out|inout] [-B KIB] [expression] (bpfc.live)
    bpfc -L | -D
    bpfc --assemble FILE          (read a -d/-dd/-ddd dump or bpf_asm text; check; print as -d)

This module owns the flags and the dispatch; reading files is ``bpfc.offline.run(args)``,
capturing is ``bpfc.live.run(args)``.

The expression words are joined with spaces, as tcpdump joins them. Every user error prints one
``bpfc: error: ...`` diagnostic (with a caret under the offending words for filter errors) and
exits with status 1; ``--debug`` shows the Python traceback instead.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import BpfcError

if TYPE_CHECKING:
    from . import cfg

EXIT_OK = 0
EXIT_ERROR = 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bpfc",
        description="Compile pcap-filter expressions to classic BPF, as tcpdump and libpcap do.",
        epilog="Examples:  bpfc -d 'tcp port 80'   bpfc -y LINUX_SLL2 -ddd 'ip6 and udp'",
    )
    p.add_argument("-d", dest="dump", action="count", default=0,
                   help="print the program: -d readable, -dd as a C array, -ddd as decimal "
                        "numbers (tcpdump's formats, byte for byte)")
    p.add_argument("--asm", action="store_true",
                   help="print the program in the label-based assembler syntax")
    p.add_argument("-O", dest="no_optimize", action="store_true",
                   help="do not run the optimizer")
    p.add_argument("-y", dest="linktype", default=None, metavar="LINKTYPE",
                   help="link type to compile for: a libpcap name (EN10MB, LINUX_SLL, "
                        "LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP, ...) or a DLT number; "
                        "default EN10MB")
    p.add_argument("-s", dest="snaplen", type=_snaplen, default=262144, metavar="SNAPLEN",
                   help="snapshot length, the value an accepted packet returns "
                        "(default 262144; 0 means 262144 as in tcpdump)")
    p.add_argument("-F", dest="file", metavar="FILE",
                   help="read the expression from FILE ('#' starts a comment); "
                        "command-line expression words are then an error")
    p.add_argument("--netmask", metavar="MASK",
                   help="IPv4 netmask for 'ip broadcast' (255.255.255.0 or 24)")
    p.add_argument("-L", "--list-linktypes", dest="list_linktypes", action="store_true",
                   help="list the link types bpfc knows and which it compiles filters for")
    p.add_argument("--assemble", metavar="FILE",
                   help="read a program (tcpdump -d/-dd/-ddd output or assembler text; '-' for "
                        "stdin), check it with the kernel's rules, and print it (-d by default)")
    files = p.add_argument_group("reading and writing captures (tcpdump's flags)")
    files.add_argument("-r", dest="read", metavar="FILE",
                       help="read packets from a pcap or pcapng file ('-' for standard input)")
    files.add_argument("-w", dest="write", metavar="FILE",
                       help="write the matching packets to FILE ('-' for standard output), in the "
                            "input's format unless --pcap/--pcapng says otherwise")
    files.add_argument("-c", dest="max_count", type=_positive, metavar="COUNT",
                       help="stop after COUNT matching packets")
    files.add_argument("-n", dest="numeric", action="store_true",
                       help="print addresses and ports as numbers (bpfc never resolves names "
                            "when printing; accepted for tcpdump compatibility)")
    files.add_argument("-e", dest="link_header", action="store_true",
                       help="print the link-level header on each line")
    files.add_argument("-q", dest="quiet", action="store_true", help="print less per packet")
    files.add_argument("-v", dest="verbose", action="count", default=0,
                       help="print more per packet")
    files.add_argument("--count", action="store_true",
                       help="print only the number of matching packets")
    fmt = files.add_mutually_exclusive_group()
    fmt.add_argument("--pcap", dest="out_format", action="store_const", const="pcap",
                     help="write classic pcap whatever the input format")
    fmt.add_argument("--pcapng", dest="out_format", action="store_const", const="pcapng",
                     help="write pcapng whatever the input format")
    files.add_argument("--engine", choices=("auto", "native", "vector", "jit", "vm"),
                       default="auto",
                       help="filter engine: machine code (x86-64 Linux, -w to pcap or "
                            "--count), numpy batch engine for large files, Python JIT for "
                            "streams (auto picks), or the reference interpreter")
    live = p.add_argument_group("live capture (Linux, root)")
    live.add_argument("-i", dest="interface", metavar="IFACE",
                      help="capture on IFACE ('any' for all interfaces, cooked headers)")
    live.add_argument("-p", dest="no_promisc", action="store_true",
                      help="do not put the interface into promiscuous mode")
    live.add_argument("-Q", dest="direction", choices=("in", "out", "inout"), default="inout",
                      help="capture only packets received (in), sent (out), or both")
    live.add_argument("-B", dest="buffer_kib", type=_positive, metavar="KIB",
                      help="kernel ring buffer size in KiB")
    live.add_argument("-D", "--list-interfaces", dest="list_interfaces", action="store_true",
                      help="list the interfaces bpfc can capture on")
    dbg = p.add_argument_group("seeing what the compiler did")
    dbg.add_argument("--dump-after", metavar="PASS", action="append", default=[],
                     help="print the CFG after optimizer pass PASS ('all' for every pass, "
                          "'lower' for the graph before optimizing)")
    dbg.add_argument("--dot", metavar="FILE",
                     help="write the final CFG as Graphviz dot to FILE ('-' for stdout); with "
                          "--dump-after, one cluster per stage it names")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    p.add_argument("expression", nargs="*", help="the filter expression (pcap-filter(7))")
    return p


def _positive(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive number")
    return value


def _snaplen(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid snapshot length '{text}'") from None
    if value < 0 or value > 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"invalid snapshot length '{text}'")
    return value or 262144


def _read_expression(args: argparse.Namespace) -> str:
    if args.file is None:
        return " ".join(args.expression)
    if args.expression:
        raise BpfcError("give the expression either with -F or on the command line, not both")
    try:
        with open(args.file, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise BpfcError(f"cannot read filter file '{args.file}': {e.strerror}") from None
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    return " ".join(" ".join(lines).split())


def _list_linktypes() -> str:
    from .linktypes import DLT_NAMES, SUPPORTED

    rows = ["Link types (* = bpfc compiles filters for it):"]
    for number in sorted(DLT_NAMES):
        name, description = DLT_NAMES[number]
        mark = "*" if number in SUPPORTED else " "
        rows.append(f"  {mark} {name:<26} {number:>4}  {description}")
    return "\n".join(rows) + "\n"


def _print_program(program: object, args: argparse.Namespace) -> None:
    from .program import DumpFormat, Program

    assert isinstance(program, Program)
    formats: dict[int, DumpFormat] = {0: "d", 1: "d", 2: "dd"}
    sys.stdout.write(program.dump("asm" if args.asm else formats.get(args.dump, "ddd")))


def _stage_names() -> tuple[str, ...]:
    """What ``--dump-after`` accepts: ``all``, ``lower``, then the optimizer's passes in order."""
    from .optimize import PASSES

    return ("all", "lower", *(name for name, _ in PASSES))


def _check_debug_flags(args: argparse.Namespace) -> None:
    """Refuse what ``--dump-after``/``--dot`` cannot do before compiling, so a misspelt pass
    name is an error rather than an empty dump."""
    if args.dump_after:
        import difflib

        names = _stage_names()
        for wanted in args.dump_after:
            if wanted not in names:
                close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise BpfcError(f"unknown pass '{wanted}' for --dump-after{hint}; the names are: "
                                + ", ".join(names))
        if args.no_optimize and not {"all", "lower"} & set(args.dump_after):
            raise BpfcError("--dump-after names an optimizer pass, but -O turns the optimizer "
                            "off: use --dump-after lower")
    if args.dot == "-" and (args.dump or args.asm):
        raise BpfcError("--dot - and -d/--asm would both write to standard output: write the "
                        "picture to a file with --dot FILE")


def _compile_and_show(args: argparse.Namespace) -> int:
    from .compiler import compile_stages

    wanted = set(args.dump_after)
    seen: list[tuple[str, cfg.Node]] = []  # (label, graph) per requested pass, in run order
    rounds: dict[str, int] = {}

    def after_pass(name: str, root: cfg.Node) -> None:
        rounds[name] = rounds.get(name, 0) + 1
        if "all" in wanted or name in wanted:
            label = name if rounds[name] == 1 else f"{name} (round {rounds[name]})"
            seen.append((label, root))

    try:
        stages = compile_stages(args.expression_text, args.linktype or "EN10MB", args.snaplen,
                                optimize=not args.no_optimize, netmask=args.netmask,
                                after_pass=after_pass if wanted else None)
    except BpfcError:
        # The passes that ran explain an error such as "rejects all packets": show them first.
        _show_stages(seen, args)
        raise
    if wanted & {"all", "lower"}:
        seen.insert(0, ("lower", stages.unoptimized))
    _show_stages(seen, args)
    if args.dot is not None and not wanted:
        from . import dot

        _write_dot(dot.to_dot(stages.optimized, title=args.expression_text), args.dot)
    if args.dump or args.asm:
        _print_program(stages.program, args)
    return EXIT_OK


def _show_stages(graphs: list[tuple[str, cfg.Node]], args: argparse.Namespace) -> None:
    """``--dump-after``'s graphs: as text on stdout, and as one dot cluster each with ``--dot``
    (only the picture when that goes to stdout, so it can be piped into ``dot``). A cluster
    whose graph is the very graph of the cluster before it says ``unchanged``."""
    from . import cfg, dot

    if not args.dump_after:
        return
    if args.dot != "-":
        for label, root in graphs:
            print(f"; after {label}\n{cfg.format_graph(root)}")
    if args.dot is not None:
        marked = [(label if i == 0 or root is not graphs[i - 1][1] else f"{label}, unchanged",
                   root) for i, (label, root) in enumerate(graphs)]
        _write_dot(dot.to_dot_passes(marked, title=args.expression_text), args.dot)


def _write_dot(text: str, path: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise BpfcError(f"cannot write '{path}': {e.strerror}") from None


def run(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    try:
        if args.list_linktypes:
            sys.stdout.write(_list_linktypes())
            return EXIT_OK
        if args.assemble is not None:
            from .program import Program

            source = sys.stdin.read() if args.assemble == "-" else _read_text(args.assemble)
            looks_like_dump = source.lstrip()[:1] in ("(", "{") or source.strip()[:1].isdigit()
            program = Program.from_dump(source) if looks_like_dump else Program.from_asm(source)
            _print_program(program, args)
            return EXIT_OK
        args.expression_text = _read_expression(args)
        _check_debug_flags(args)
        if args.list_interfaces or args.interface is not None:
            from . import live

            return live.run(args)
        if args.read is not None:
            from . import offline

            return offline.run(args)
        if not (args.dump or args.asm or args.dump_after or args.dot):
            raise BpfcError("nothing to do: give -d, -dd or -ddd (or --asm) to print the "
                            "compiled program, -r FILE to filter a capture, or -i IFACE to "
                            "capture")
        return _compile_and_show(args)
    except BpfcError as e:
        if args.debug:
            raise
        sys.stdout.flush()
        print(e.render(), file=sys.stderr)
        return e.exit_status
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # an internal failure: say so plainly, traceback only on request
        if args.debug:
            raise
        print(f"bpfc: internal error: {type(e).__name__}: {e} (run again with --debug for the "
              "traceback, and please report it)", file=sys.stderr)
        return 2


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise BpfcError(f"cannot read '{path}': {e.strerror}") from None


def main() -> None:
    # lark uses the third-party ``regex`` module when it is installed; plain ``re`` serves our
    # grammar, and skipping ``regex`` saves a cold start ~5 ms. Only in our own process.
    sys.modules.setdefault("regex", None)  # type: ignore[arg-type]
    # numpy starts OpenBLAS's thread pool on import, and its threads spin waiting for work
    # that never comes (bpfc does no linear algebra): ~45 ms of CPU per ``-r`` run, taken
    # from the two filtering processes on a two-core machine. One thread: no pool.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # This process ends in ``os._exit`` below, so the cyclic collector only costs time: its
    # passes over the young objects during imports, and one over everything ``-r`` made, as
    # soon as it is enabled again (4 ms). A live capture runs for long and enables it again.
    gc.disable()
    status = run(sys.argv[1:])
    # Every output file has been closed by now. Leave without tearing the interpreter down:
    # module teardown and a last collection over numpy and the parser take 10-20 ms, a tenth
    # of a whole ``-r`` job on a million packets. (``run`` itself returns, for callers in
    # process.)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: the reader has gone, as it may
        pass
    os._exit(status)
