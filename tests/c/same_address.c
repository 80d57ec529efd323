/* A semaphore-guarded USDT probe as the second instruction of a function,
 * so that `uprobe:...:fire_guarded+OFFSET` lands at its address. fire()
 * runs argv[1] times, argv[2] microseconds apart (0: no pause); whenever
 * the semaphore changes the program prints `sem N`, so a test can see it
 * raised while attached and back at 0 after. */
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>
#include <unistd.h>

unsigned short same_guarded_semaphore __attribute__((unused)) __attribute__((section(".probes")));

__attribute__((noinline)) int fire_guarded(int i)
{
    DTRACE_PROBE1(same, guarded, i);
    return i;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10;
    long pause_us = argc > 2 ? atol(argv[2]) : 0;
    unsigned short last = 0;
    long sum = 0;
    for (long i = 0; i < n; i++) {
        sum += fire_guarded((int)i);
        unsigned short now = *(volatile unsigned short *)&same_guarded_semaphore;
        if (now != last) {
            printf("sem %u\n", now);
            fflush(stdout);
            last = now;
        }
        if (pause_us > 0)
            usleep(pause_us);
    }
    printf("sum %ld\n", sum);
    return 0;
}
