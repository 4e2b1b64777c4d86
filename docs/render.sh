#!/bin/sh
# Regenerate the README's CFG picture: bpfc writes the dot source, graphviz's dot draws it.
# tests/test_cli_debug.py checks that the committed .dot is what bpfc prints today, so run this
# after changing the lowering, the optimizer or bpfc/dot.py.
set -eu
cd "$(dirname "$0")/.."
PYTHONPATH=. python3 -m bpfc --dot docs/tcp-port-80.dot 'tcp port 80'
dot -Tsvg docs/tcp-port-80.dot -o docs/tcp-port-80.svg
