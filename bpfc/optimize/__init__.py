"""The optimizer: CFG → smaller CFG with the same verdict on every packet.

Stage: between lowering and emission. ``PASSES`` is the whole pass manager: each pass is a
function ``(root, builder) -> root`` over the hash-consed CFG, run in order and repeated until the
graph stops changing (bounded). Interning in ``cfg.Builder`` already merges equal subgraphs and
drops branches whose two edges agree, so every pass gets those for free when it rebuilds.
Register reuse (loads skipped when A or X already holds the value) is the emitter's job.
"""

from __future__ import annotations

from collections.abc import Callable

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
             after_pass: Callable[[str, cfg.Node], None] | None = None) -> cfg.Node:
    """Run ``PASSES`` to a fixed point; ``after_pass(name, root)`` sees every intermediate graph."""
    for _ in range(MAX_ROUNDS):
        before = root
        for name, run in PASSES:
            root = run(root, builder)
            if after_pass is not None:
                after_pass(name, root)
        if root is before:
            break
    return root
