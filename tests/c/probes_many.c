/* USDT test program for ustrace: probes with 0..12 arguments of every
 * integer width and sign, two providers, a probe inlined at three sites, a
 * semaphore-guarded probe (probes_sem.c) and calls into a shared library
 * with its own probes (libprobes.c).
 *
 * Build (what the probes crate's tests do):
 *   gcc -O2 -shared -fPIC -o libprobes.so libprobes.c
 *   gcc -O2 -o probes_many probes_many.c probes_sem.c -L. -lprobes -Wl,-rpath,'$ORIGIN'
 *
 * Run: probes_many [ITERATIONS [DELAY_MS]]
 *   Fires every probe once per iteration (default 1 iteration), sleeping
 *   DELAY_MS milliseconds (default 0) before each iteration; ITERATIONS -1
 *   loops forever (attach with -p). At exit prints one line:
 *   "guarded: N" = how many times the semaphore-guarded probe saw its
 *   semaphore enabled and fired.
 *
 * Probes and their arguments (values for iteration i, counting from 0):
 *   many:p0 .. many:p12   constants (immediates in the notes): argument k
 *                         (1-based) has type T[(k-1) % 8] and value V(k):
 *                         T = s8 u8 s16 u16 s32 u32 s64 u64,
 *                         V(k) = -k, k, -100k, 100k, -100000k, 100000k,
 *                                -10000000000k, 10000000000k (by type).
 *   many:loop             (s32 i, u64 &many_counter, u64 "many" string ptr)
 *   many:inlined          (s32 site, s64 i) at three sites, site = 1, 2, 3
 *   other:ping            (u32 i)   second provider
 *   sem:guarded           (s32 i, s64 2*i)  guarded by sem_guarded_semaphore
 *   lib:hello             (s32 i, u64 "hello" string ptr)   in libprobes.so
 *   lib:twice             (s32 site) at two sites in libprobes.so
 */
#include <sys/sdt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int fire_guarded(int i);           /* probes_sem.c */
int lib_hello(int i);              /* libprobes.c */

volatile long many_counter;
static const char many_str[] = "many";

static inline __attribute__((always_inline)) void inlined(int site, long i)
{
    DTRACE_PROBE2(many, inlined, site, i);
}

#define A1 (int8_t)-1
#define A2 (uint8_t)2
#define A3 (int16_t)-300
#define A4 (uint16_t)400
#define A5 (int32_t)-500000
#define A6 (uint32_t)600000
#define A7 (int64_t)-70000000000LL
#define A8 (uint64_t)80000000000ULL
#define A9 (int8_t)-9
#define A10 (uint8_t)10
#define A11 (int16_t)-1100
#define A12 (uint16_t)1200

static void __attribute__((noinline)) fire_constants(void)
{
    DTRACE_PROBE(many, p0);
    DTRACE_PROBE1(many, p1, A1);
    DTRACE_PROBE2(many, p2, A1, A2);
    DTRACE_PROBE3(many, p3, A1, A2, A3);
    DTRACE_PROBE4(many, p4, A1, A2, A3, A4);
    DTRACE_PROBE5(many, p5, A1, A2, A3, A4, A5);
    DTRACE_PROBE6(many, p6, A1, A2, A3, A4, A5, A6);
    DTRACE_PROBE7(many, p7, A1, A2, A3, A4, A5, A6, A7);
    DTRACE_PROBE8(many, p8, A1, A2, A3, A4, A5, A6, A7, A8);
    DTRACE_PROBE9(many, p9, A1, A2, A3, A4, A5, A6, A7, A8, A9);
    DTRACE_PROBE10(many, p10, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10);
    DTRACE_PROBE11(many, p11, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11);
    DTRACE_PROBE12(many, p12, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12);
}

static void __attribute__((noinline)) site_a(long i) { inlined(1, i); }
static void __attribute__((noinline)) site_b(long i) { inlined(2, i); }
static void __attribute__((noinline)) site_c(long i) { inlined(3, i); }

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1;
    long delay_ms = argc > 2 ? atol(argv[2]) : 0;
    long guarded = 0;
    for (long i = 0; n < 0 || i < n; i++) {
        if (delay_ms > 0) {
            struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        int ii = (int)i;
        many_counter++;
        fire_constants();
        DTRACE_PROBE3(many, loop, ii, &many_counter, many_str);
        site_a(i);
        site_b(i);
        site_c(i);
        DTRACE_PROBE1(other, ping, (unsigned)ii);
        guarded += fire_guarded(ii);
        lib_hello(ii);
    }
    printf("guarded: %ld\n", guarded);
    return 0;
}
