/* The reference example: one USDT probe fired once a second with a
 * counter. Build: gcc -g -fno-omit-frame-pointer -O0 test-server.c -o test-server
 * Optional first argument: the counter's start value (default 0). */
#include <sys/sdt.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int idx = argc > 1 ? atoi(argv[1]) : 0;
    while (1) {
        idx++;
        DTRACE_PROBE1(test_grp, test_idx, idx);
        sleep(1);
    }
    return 0;
}
