"""A lark-free LALR(1) driver for the pcap-filter grammar, so that a cold start skips lark.

Stage: part of parsing (``bpfc.syntax``). Input: plain tables exported once from lark's LALR
parser, and the scanner's tokens; output: the parse tree lark itself would have built (same rule
names, same children, same source positions), made of this module's small ``Tree`` and ``Token``.

Importing lark costs a cold ``bpfc -d`` some 15 ms, about a fifth of its run time, although the
parse tables come ready-made from the on-disk cache. The tables are only a few dicts of strings
and ints, and driving them takes a loop of thirty lines, so a successful parse needs no lark at
all. A string the tables refuse goes back to lark (``parse`` returns None): lark's exception is
what the friendly diagnostics in ``bpfc.diagnostics`` are written against, and errors may be
slow.

What this module reproduces of lark's tree building is exactly what the grammar uses, and
``export`` checks that before it exports anything: every rule builds ``Tree(alias or rule name,
children)`` with positions propagated from the first and last child, ``?rule`` alternatives
without an alias hand their single child up instead, and no token is filtered out (every
terminal is ``%declare``'d, so all are named). ``Tree`` and ``Token`` are plain slotted classes,
not dataclasses: a dataclass costs a third of a millisecond to create at import time.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterable
from typing import Any, Final, TypeAlias

__all__ = ["FORMAT", "Tables", "Token", "Tree", "export", "from_lark", "parse", "shape"]

FORMAT: Final = 1
"""Version of the serialised tables; part of ``Tables.dumps``'s payload."""


class Token:
    """One scanner token: its terminal name, its text and its half-open source range."""

    __slots__ = ("type", "value", "start_pos", "end_pos")

    def __init__(self, type_: str, value: str, start_pos: int, end_pos: int) -> None:
        self.type = type_
        self.value = value
        self.start_pos = start_pos
        self.end_pos = end_pos

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r}, {self.start_pos}, {self.end_pos})"


class Tree:
    """One rule's node: ``data`` is the rule's alias (or name); positions span its children.

    ``start_pos``/``end_pos`` are -1 for a tree with no children, which lark leaves without
    positions (only the empty filter's ``start`` is one, and the parser never builds it for
    non-blank text).
    """

    __slots__ = ("data", "children", "start_pos", "end_pos")

    def __init__(self, data: str, children: list[Tree | Token], start_pos: int,
                 end_pos: int) -> None:
        self.data = data
        self.children = children
        self.start_pos = start_pos
        self.end_pos = end_pos

    def __repr__(self) -> str:
        return f"Tree({self.data!r}, {self.children!r})"


Rule: TypeAlias = tuple[str, int, str, bool]
"""(tree name, number of symbols, the rule's nonterminal, hand a single child up)."""


class Tables:
    """The LALR automaton as plain data.

    ``actions[state]`` maps a terminal or nonterminal name to a code: ``n >= 0`` shifts to (or,
    for a nonterminal, goes to) state ``n``; ``n < 0`` reduces by ``rules[-1 - n]``. ``check``
    is the ``shape`` of a tree the tables built when they were exported, so that loaded tables
    can prove they still parse that text the same way.
    """

    __slots__ = ("actions", "rules", "start", "end", "check")

    def __init__(self, actions: tuple[dict[str, int], ...], rules: tuple[Rule, ...], start: int,
                 end: int, check: object = None) -> None:
        self.actions = actions
        self.rules = rules
        self.start = start
        self.end = end
        self.check = check

    def dumps(self, extra: object = None) -> bytes:
        """The tables in ``marshal`` form: plain tuples, dicts, strings and ints, which load
        without importing anything (``pickle`` alone costs a cold start about a millisecond)
        and cannot make arbitrary objects. ``extra`` is kept alongside for the caller."""
        payload: Any = (FORMAT, self.actions, self.rules, self.start, self.end, self.check,
                        extra)  # plain values all the way down; typeshed cannot say so
        return marshal.dumps(payload)

    @classmethod
    def loads(cls, blob: bytes) -> tuple[Tables, object]:
        """Inverse of ``dumps``: (tables, extra). Raises ValueError on anything unexpected."""
        try:
            fmt, actions, rules, start, end, check, extra = marshal.loads(blob)
        except (EOFError, TypeError, ValueError) as exc:
            raise ValueError("not a tables file") from exc
        well_formed = (
            fmt == FORMAT and isinstance(actions, tuple) and isinstance(rules, tuple)
            and all(isinstance(row, dict) for row in actions)
            and all(isinstance(rule, tuple) and len(rule) == 4 for rule in rules)
            and isinstance(start, int) and isinstance(end, int))
        if not well_formed:
            raise ValueError("not a tables file")
        return cls(actions, rules, start, end, check), extra


def parse(tables: Tables, tokens: Iterable[Token]) -> Tree | Token | None:
    """Drive the tables over ``tokens`` (consumed lazily, so a scanner error surfaces at the
    same token as under lark). Returns the tree of the start rule, or None if the tokens are not
    a sentence of the grammar."""
    actions, rules = tables.actions, tables.rules
    states = [tables.start]
    values: list[Tree | Token] = []

    def reduce(code: int) -> None:
        name, size, origin, single = rules[-1 - code]
        children = values[-size:] if size else []
        if size:
            del values[-size:]
            del states[-size:]
        if single and size == 1:
            node = children[0]
        else:
            node = Tree(name, children, -1, -1)
            for child in children:  # lark's PropagatePositions: first and last non-empty child
                if child.start_pos >= 0:
                    node.start_pos = child.start_pos
                    break
            for child in reversed(children):
                if child.end_pos >= 0:
                    node.end_pos = child.end_pos
                    break
        states.append(actions[states[-1]][origin])
        values.append(node)

    for token in tokens:
        while True:
            code = actions[states[-1]].get(token.type)
            if code is None:
                return None
            if code >= 0:
                states.append(code)
                values.append(token)
                break
            reduce(code)
    while True:
        code = actions[states[-1]].get("$END")
        if code is None or code >= 0:
            return None
        reduce(code)
        if states[-1] == tables.end:
            return values[-1]


def shape(node: Tree | Token) -> object:
    """A tree as nested tuples of plain values, positions included: what tests and the tables'
    self-check compare. Iterative, since filters join thousands of terms."""
    done: list[object] = []
    stack: list[tuple[Tree | Token, bool]] = [(node, False)]
    while stack:
        item, expanded = stack.pop()
        if isinstance(item, Token):
            done.append((item.type, item.value, item.start_pos, item.end_pos))
        elif expanded:
            count = len(item.children)
            kids = tuple(done[len(done) - count:]) if count else ()
            del done[len(done) - count:]
            done.append((item.data, item.start_pos, item.end_pos, kids))
        else:
            stack.append((item, True))
            stack.extend((child, False) for child in reversed(item.children))
    return done[0]


# ---------------------------------------------------------------------------------------------
# From lark: these take lark's objects but import nothing of lark's at module level.


def export(lalr: Any) -> Tables | None:
    """The tables of lark's ``LALR_Parser`` ``lalr``, or None if its tree building does more
    than this driver reproduces (a terminal callback, a filtered token, an inlined ``_rule``,
    placeholders, a position filter)."""
    from functools import partial

    from lark.parse_tree_builder import ExpandSingleChild, PropagatePositions
    from lark.parsers.lalr_analysis import Shift
    from lark.tree import Tree as LarkTree

    parser = lalr.parser
    index: dict[Any, int] = {}
    rules: list[Rule] = []
    for rule, callback in parser.callbacks.items():
        if not isinstance(callback, PropagatePositions) or callback.node_filter is not None:
            return None
        builder = callback.node_builder
        single = isinstance(builder, ExpandSingleChild)
        if single:
            builder = builder.node_builder
        if not (isinstance(builder, partial) and builder.func is LarkTree
                and len(builder.args) == 1 and not builder.keywords):
            return None
        index[rule] = len(rules)
        rules.append((str(builder.args[0]), len(rule.expansion), str(rule.origin.name), single))
    table = parser.parse_table
    if sorted(table.states) != list(range(len(table.states))):
        return None
    actions: list[dict[str, int]] = []
    for state in range(len(table.states)):
        row: dict[str, int] = {}
        for symbol, (action, arg) in table.states[state].items():
            row[str(symbol)] = arg if action is Shift else -1 - index[arg]
        actions.append(row)
    return Tables(tuple(actions), tuple(rules), table.start_states["start"],
                  table.end_states["start"])


def from_lark(node: Any) -> Tree | Token:
    """lark's tree (or token) as this module's, positions included (iterative)."""
    from lark.lexer import Token as LarkToken

    def leaf(token: Any) -> Token:
        return Token(token.type, str(token), token.start_pos, token.end_pos)

    if isinstance(node, LarkToken):
        return leaf(node)
    done: list[Tree | Token] = []
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        item, expanded = stack.pop()
        if isinstance(item, LarkToken):
            done.append(leaf(item))
        elif expanded:
            count = len(item.children)
            kids = done[len(done) - count:] if count else []
            del done[len(done) - count:]
            meta = item.meta
            empty = meta.empty
            done.append(Tree(str(item.data), kids, -1 if empty else meta.start_pos,
                             -1 if empty else meta.end_pos))
        else:
            stack.append((item, True))
            stack.extend((child, False) for child in reversed(item.children))
    return done[0]
