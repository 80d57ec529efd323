/* A target for signal()/signal_thread(): ping(n) is traced; the handler
 * records which signal arrived before the next line runs (the kernel
 * delivers a BPF-sent signal on the way back to user space). */
#include <signal.h>
#include <stdio.h>

static volatile sig_atomic_t last_signal;

static void on_signal(int sig) { last_signal = sig; }

__attribute__((noinline)) void ping(int n) { __asm__ volatile("" : : "r"(n) : "memory"); }

int main(void) {
    signal(SIGUSR1, on_signal);
    signal(SIGUSR2, on_signal);
    ping(1);
    printf("after ping 1: signal %d\n", (int)last_signal);
    ping(2);
    printf("after ping 2: signal %d\n", (int)last_signal);
    return 0;
}
