# Known work for ustat: creates ARGV1.PID.ready (it runs), waits for the
# file named by argv[1] (created once ustrace is tracing), then returns from f() 5000 times and collects
# garbage 3 times, then idles 6 s (past the test's 3 intervals). The wait
# and the idling call no Python functions.
import gc
import os
import sys
import time


def f(x):
    return x


open(f"{sys.argv[1]}.{os.getpid()}.ready", "w").close()
while True:
    try:
        os.stat(sys.argv[1])
        break
    except FileNotFoundError:
        time.sleep(0.05)
for i in range(5000):
    f(i)
gc.collect()
gc.collect()
gc.collect()
time.sleep(6)
