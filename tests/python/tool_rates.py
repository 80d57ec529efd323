# Known work for ustat: creates ARGV1.PID.ready (it runs), waits for the
# file named by argv[1] (created once ustrace is tracing), then returns
# from f() 5000 times and collects garbage 3 times, creates ARGV1.PID.done
# and idles until its stdin closes (the test keeps it open until ustat has
# printed the intervals after the work; exiting earlier would count the
# interpreter's shutdown). The wait and the idling call no Python
# functions.
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
# os.open and os.read: a text-mode open() or sys.stdin would run the
# Python code of the codecs.
os.close(os.open(f"{sys.argv[1]}.{os.getpid()}.done", os.O_CREAT | os.O_WRONLY, 0o644))
while os.read(0, 4096):
    pass
