#!/usr/bin/env bash
# Issue 17's Ruby stress test: does tracing Ruby 3.1's method probes harm
# the traced Ruby, and is it ustrace or Ruby itself?
#
#   scripts/ruby-probe-stress.sh RUNS MODE [RUBY ARGS...]
#
# MODE:
#   ustrace  ustrace -c 'ruby ... fib.rb' with method__entry and
#            cmethod__entry, reading str(arg0) and str(arg1)
#   cmethod  no tracer: cmethod__entry's semaphore raised by an LD_PRELOAD
#            helper (tests/c/raise_semaphores.c), nothing attached
#   method   the same with method__entry's semaphore
#   both     the same with both
#   others   the same with every other semaphore (allocations, GC, raise,
#            require, load)
#   none     plain ruby
# Prints runs, failed runs (exit status not 0 or no output) and runs
# that printed Ruby's "RSTRING_PTR is returning NULL!!"; keeps the
# output of each bad run under $OUT (default /tmp/ruby-probe-stress).
# Needs root (ustrace), ruby, gcc and a built ustrace (target/debug or
# $USTRACE). The numbers measured are in docs/tools.md.
set -euo pipefail
runs=${1:?runs}
mode=${2:?mode}
shift 2
repo=$(cd "$(dirname "$0")/.." && pwd)
ustrace=${USTRACE:-$repo/target/debug/ustrace}
out=${OUT:-/tmp/ruby-probe-stress}
lib=/usr/lib/x86_64-linux-gnu/libruby-3.1.so.3.1
fib=$repo/tests/ruby/fib.rb
mkdir -p "$out"
sem() {
    "$ustrace" -lv "usdt:$lib:ruby:$1" | sed -n 's/.*semaphore offset \(0x[0-9a-f]*\).*/\1/p' | head -1
}
helper=$out/raise_semaphores.so
gcc -shared -fPIC -O2 -o "$helper" "$repo/tests/c/raise_semaphores.c"
case $mode in
    cmethod) sems=$(sem cmethod__entry) ;;
    method) sems=$(sem method__entry) ;;
    both) sems=$(sem cmethod__entry),$(sem method__entry) ;;
    others)
        sems=""
        for p in object__create string__create array__create hash__create \
            gc__mark__begin gc__mark__end gc__sweep__begin gc__sweep__end raise \
            require__entry load__entry; do
            sems=$sems${sems:+,}$(sem $p)
        done
        ;;
    ustrace | none) sems="" ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
script="usdt:$lib:ruby:method__entry { @m[str(arg0), str(arg1)] = count(); }
usdt:$lib:ruby:cmethod__entry { @c[str(arg0), str(arg1)] = count(); }"
failed=0
rstring=0
for i in $(seq 1 "$runs"); do
    log=$out/run.log
    set +e
    case $mode in
        ustrace) timeout 60 "$ustrace" -e "$script" -c "/usr/bin/ruby $* $fib" >"$log" 2>&1 ;;
        none) timeout 60 /usr/bin/ruby "$@" "$fib" >"$log" 2>&1 ;;
        *) RAISE_LIB=libruby RAISE_SEMS=$sems LD_PRELOAD=$helper \
            timeout 60 /usr/bin/ruby "$@" "$fib" >"$log" 2>&1 ;;
    esac
    status=$?
    set -e
    bad=0
    if grep -q "RSTRING_PTR is returning NULL" "$log"; then
        rstring=$((rstring + 1))
        bad=1
    fi
    if [ "$status" != 0 ] || ! grep -qx 610 "$log"; then
        failed=$((failed + 1))
        bad=1
    fi
    if [ "$bad" = 1 ]; then
        cp "$log" "$out/$mode-$i.log"
    fi
done
echo "mode=$mode semaphores=${sems:-none} ruby-args='$*' runs=$runs failed=$failed rstring=$rstring"
