/* Workload of the tseries() tests: calls sample(v) for each value given
 * and says which TAI intervals (the clock tseries() uses) the calls fell
 * in, so the tests know the exact epochs without trusting timing.
 *
 *   tseries_work burst INTERVAL_NS v1 v2 ...
 *       all calls back to back; prints "burst E0 E1 HH:MM:SS.FFFFFFFFF",
 *       the epochs read before the first and after the last call (equal
 *       when every call fell in one interval) and the UTC time of day at
 *       which E0 starts.
 *   tseries_work paced INTERVAL_NS v1 v2 ...
 *       waits for a new interval before each call; prints
 *       "paced EPOCH YYYY-MM-DDTHH:MM:SS.FFFFFFFFF VALUE" per call (the
 *       interval's UTC start), or "straddle" when a call crossed into the
 *       next interval.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((noinline)) void sample(long v) { __asm__ volatile("" ::"r"(v)); }

static long long now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* TAI minus UTC in whole seconds (0 when the kernel has no TAI offset). */
static long long tai_offset_s(void)
{
    long long diff = now_ns(CLOCK_TAI) - now_ns(CLOCK_REALTIME);
    /* Round to the nearest second (the reads are nanoseconds apart). */
    return diff >= 0 ? (diff + 500000000LL) / 1000000000LL : -((-diff + 500000000LL) / 1000000000LL);
}

/* The UTC time an epoch starts at, as "YYYY-MM-DDTHH:MM:SS.FFFFFFFFF". */
static void utc_start(long long epoch, long long interval, char *out, size_t n)
{
    long long start = epoch * interval - tai_offset_s() * 1000000000LL;
    time_t secs = (time_t)(start / 1000000000LL);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%09lld", day, start % 1000000000LL);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    long long interval = atoll(argv[2]);
    char when[64];
    if (strcmp(argv[1], "burst") == 0) {
        long long e0 = now_ns(CLOCK_TAI) / interval;
        for (int i = 3; i < argc; i++)
            sample(atol(argv[i]));
        long long e1 = now_ns(CLOCK_TAI) / interval;
        utc_start(e0, interval, when, sizeof when);
        printf("burst %lld %lld %s\n", e0, e1, strchr(when, 'T') + 1);
        return 0;
    }
    long long last = now_ns(CLOCK_TAI) / interval;
    for (int i = 3; i < argc; i++) {
        long long e;
        /* A new interval for each call. */
        while ((e = now_ns(CLOCK_TAI) / interval) == last) {
            struct timespec pause = { 0, 1000000 };
            nanosleep(&pause, NULL);
        }
        sample(atol(argv[i]));
        last = now_ns(CLOCK_TAI) / interval;
        if (last != e) {
            printf("straddle\n");
            return 0;
        }
        utc_start(e, interval, when, sizeof when);
        printf("paced %lld %s %s\n", e, when, argv[i]);
    }
    return 0;
}
