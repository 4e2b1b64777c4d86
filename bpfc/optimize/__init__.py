"""The optimizer: CFG → smaller CFG with the same verdict on every packet.

Stage: between lowering and emission. ``PASSES`` is the whole pass manager: each pass is a
function ``(root, builder) -> root`` over the hash-consed CFG, one module each, run in order and
repeated until a whole cycle of passes leaves the graph unchanged (bounded). Interning in
``cfg.Builder`` already merges equal subgraphs and drops branches whose two edges agree, so
every pass gets those for free when it rebuilds.

- ``simplify-tests``: constant folding, algebra (``len - 14 == 48`` is ``len == 62``), cheaper
  jumps (``jset`` for masks);
- ``jump-threading``: facts along edges decide tests and drop repeated assignments;
- ``reorder-chains``: or/and chains grouped by loaded value where no verdict can change;
- ``constant-vars``: variables holding one constant on every path become that constant;
- ``dead-stores``: assignments nobody reads go (or shrink to the loads that may fault);
- ``hoist-assigns``: assignments move above tests so paths can share what follows.

Register allocation (loads skipped when A or X already holds the value, variables kept in X),
block order and long jumps are the emitter's job (``bpfc.emit``).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator

from .. import cfg
from .constant_vars import propagate_constants
from .dead_stores import eliminate_dead_stores
from .hoist_assigns import hoist_assigns
from .jump_threading import thread_jumps
from .reorder_chains import reorder_chains
from .simplify_tests import simplify_tests

Pass = Callable[[cfg.Node, cfg.Builder], cfg.Node]

PASSES: tuple[tuple[str, Pass], ...] = (
    ("simplify-tests", simplify_tests),
    ("jump-threading", thread_jumps),
    ("reorder-chains", reorder_chains),
    ("constant-vars", propagate_constants),
    ("dead-stores", eliminate_dead_stores),
    ("hoist-assigns", hoist_assigns),
)

MAX_ROUNDS = 8


def optimize(root: cfg.Node, builder: cfg.Builder,
             after_pass: Callable[[str, cfg.Node], None] | None = None, *,
             check: bool = False) -> cfg.Node:
    """Run ``PASSES`` in order, round after round, until one whole cycle of them changes
    nothing (at most ``MAX_ROUNDS`` rounds); ``after_pass(name, root)`` sees every graph.

    ``check`` asserts the CFG's invariants (``cfg.check_graph``) before the first pass and
    after every pass; the tests turn it on.
    """
    if check:
        cfg.check_graph(root)
    with without_gc():
        unchanged = 0  # passes run in a row that returned the graph they were given
        for _ in range(MAX_ROUNDS):
            for name, run in PASSES:
                new = run(root, builder)
                if check:
                    cfg.check_graph(new)
                unchanged = unchanged + 1 if new is root else 0
                root = new
                if after_pass is not None:
                    after_pass(name, root)
                if unchanged == len(PASSES):
                    return root
    return root


@contextlib.contextmanager
def without_gc() -> Iterator[None]:
    """Pause the cycle collector: the passes allocate many short-lived objects (facts, rebuilt
    nodes) and none of them form cycles, so collecting while they run only costs time (a
    quarter of a 1000-host compilation)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
