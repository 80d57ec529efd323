/* A USDT probe five calls deep, for the unwind-table stack walk tests.
 * Built with -O2 -fomit-frame-pointer: no function keeps a frame pointer,
 * so only .eh_frame says where the return addresses are.
 *
 *   unwind_deep WAIT_MS [LINGER_MS] [DEPTH]
 *
 * Waits WAIT_MS, calls level1 -> level5 (probe deep:here in level5), then
 * lingers LINGER_MS before exiting. With DEPTH > 0 it instead recurses
 * DEPTH times through `recurse` and fires deep:bottom at the bottom, in a
 * loop, until LINGER_MS have passed (for the benchmark). */
#include <stdlib.h>
#include <sys/sdt.h>
#include <time.h>
#include <unistd.h>

volatile int sink;

__attribute__((noinline)) int level5(int x) {
    DTRACE_PROBE1(deep, here, x);
    sink += x;
    return sink * 3;
}
__attribute__((noinline)) int level4(int x) { int r = level5(x + 1); sink ^= r; return r + 1; }
__attribute__((noinline)) int level3(int x) { int r = level4(x * 2); sink += r; return r + 2; }
__attribute__((noinline)) int level2(int x) { int r = level3(x - 1); sink -= r; return r + 3; }
__attribute__((noinline)) int level1(int x) { int r = level2(x + 5); sink |= r; return r + 4; }

__attribute__((noinline)) int recurse(int n) {
    if (n == 0) {
        DTRACE_PROBE1(deep, bottom, n);
        return sink;
    }
    int r = recurse(n - 1);
    sink += r;
    return r + 1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    int wait_ms = argc > 1 ? atoi(argv[1]) : 0;
    int linger_ms = argc > 2 ? atoi(argv[2]) : 0;
    int depth = argc > 3 ? atoi(argv[3]) : 0;
    usleep(wait_ms * 1000);
    if (depth > 0) {
        double end = now_ms() + linger_ms;
        long n = 0;
        while (now_ms() < end)
            for (int i = 0; i < 1000; i++, n++)
                recurse(depth);
        return (int)(n & 1);
    }
    int r = level1(argc) & 1;
    usleep(linger_ms * 1000);
    return r;
}
