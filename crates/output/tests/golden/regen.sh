#!/bin/sh
# Regenerates the golden outputs: runs every NAME.bt with bpftrace (0.17, as
# root) and stores its standard output, less the "Attaching N probes..."
# line, in NAME.out.
set -e
cd "$(dirname "$0")"
for bt in *.bt; do
    name=${bt%.bt}
    bpftrace "$bt" 2>/dev/null | sed '1{/^Attaching [0-9]* probes*\.\.\.$/d}' > "$name.out"
done
