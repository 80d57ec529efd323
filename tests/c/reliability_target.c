/* Target of the reliability tests (crates/cli/tests/reliability_*.rs):
 * fires a semaphore-guarded USDT probe (rel:tick) and calls rel_work()
 * every 5 ms. On SIGUSR1 it prints its semaphore's value and the first
 * byte of rel_work (0xcc while a uprobe sits there), so a test can check
 * that a tracer left nothing behind. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

unsigned short rel_tick_semaphore __attribute__((unused)) __attribute__((section(".probes")));

static volatile sig_atomic_t report;

static void on_usr1(int sig)
{
    (void)sig;
    report = 1;
}

int __attribute__((noinline)) rel_work(int i)
{
    return i * 2 + 1;
}

int main(void)
{
    signal(SIGUSR1, on_usr1);
    printf("ready\n");
    fflush(stdout);
    for (int i = 0;; i++) {
        if (*(volatile unsigned short *)&rel_tick_semaphore)
            DTRACE_PROBE1(rel, tick, i);
        rel_work(i);
        if (report) {
            report = 0;
            printf("sem=%u byte=%02x\n", *(volatile unsigned short *)&rel_tick_semaphore,
                   *(volatile unsigned char *)(void *)rel_work);
            fflush(stdout);
        }
        usleep(5000);
    }
    return 0;
}
