/* Fires a 2-argument USDT probe N times as fast as it can and prints the
 * cost per iteration in ns. argv[1] = N. With argv[2] = "latency", fires a
 * start/done probe pair instead; with "string", bench:named(i, "bench-name")
 * (a string argument). */
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 5000000;
    int latency = argc > 2 && strcmp(argv[2], "latency") == 0;
    int string = argc > 2 && strcmp(argv[2], "string") == 0;
    static const char name[] = "bench-name";
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        if (latency) {
            DTRACE_PROBE1(bench, start, i);
            DTRACE_PROBE1(bench, done, i);
        } else if (string) {
            DTRACE_PROBE2(bench, named, i, name);
        } else {
            DTRACE_PROBE2(bench, hit, i, i * 3);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("%.2f\n", ns / (double)n);
    return 0;
}
