/* A known call chain for the stack tests: main -> level1 -> level2 ->
 * level3 -> leaf(i), ITERATIONS times (argv[1], default 3) with 10 ms
 * between calls; "spin" as argv[2] makes level3 spin for 1 s of its own CPU time per
 * call instead (for profile: the sample count then does not depend on how
 * busy the machine is). Sleeps 1 s before exiting, so a tracer can
 * still read the process's maps when it symbolizes.
 * Build: gcc -O0 -g -fno-omit-frame-pointer stacks.c -o stacks */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int spin;

__attribute__((noinline)) int leaf(int i) { return i * 2; }

__attribute__((noinline)) void level3(int i)
{
    if (spin) {
        struct timespec start, now;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
        do {
            /* Mostly pure computation, so samples land in level3 itself. */
            for (volatile unsigned long k = 0; k < 1000000UL; k++)
                ;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
        } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 1000000000L);
    }
    leaf(i);
}

__attribute__((noinline)) void level2(int i) { level3(i); }
__attribute__((noinline)) void level1(int i) { level2(i); }

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3;
    spin = argc > 2 && strcmp(argv[2], "spin") == 0;
    for (int i = 0; i < n; i++) {
        level1(i);
        usleep(10000);
    }
    sleep(1);
    return 0;
}
