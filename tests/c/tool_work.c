/* Known work for the tools' tests: work() runs argv[1] times, each call
 * spinning for about argv[2] microseconds, called through two paths so
 * that stackcount sees two stacks. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long spin_us;

__attribute__((noinline)) long work(long i)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < spin_us * 1000L);
    return i * 2;
}

__attribute__((noinline)) long via_a(long i) { return work(i) + 1; }
__attribute__((noinline)) long via_b(long i) { return work(i) + 2; }

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100;
    spin_us = argc > 2 ? atol(argv[2]) : 0;
    long sum = 0;
    for (long i = 0; i < n; i++)
        sum += (i % 3 == 0) ? via_a(i) : via_b(i);
    printf("%ld\n", sum);
    return 0;
}
