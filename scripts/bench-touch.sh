#!/usr/bin/env bash
# Changes one line of a file (a new random value each call): the "one-file change" of
# scripts/bench-build.sh.
echo "print(\"$RANDOM$RANDOM\")" > "$1"
