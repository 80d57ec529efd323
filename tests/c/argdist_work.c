/* Known arguments for argdist and trace: each round (argv[1] of them,
 * argv[2] microseconds apart) calls take() with (16, 1) five times,
 * (32, 2) three times and (1000, 1) twice; name_len() with "alpha" twice
 * and "beta" once; twice(0..3) (returning 0, 2, 4, 6); malloc(12345)
 * seven times; and fires the USDT probe argwork:item(round, "x"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>
#include <unistd.h>

__attribute__((noipa)) long take(unsigned long size, int fd) { return (long)size + fd; }
__attribute__((noipa)) int name_len(const char *name) { return (int)strlen(name); }
__attribute__((noipa)) int twice(int x) { return 2 * x; }

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 1;
    long pause_us = argc > 2 ? atol(argv[2]) : 0;
    long sum = 0;
    /* Touch the strings' page first: a probe cannot fault a page in, so a
     * string on a page the program never read yet reads as empty. */
    sum += *(volatile const char *)"alpha" + *(volatile const char *)"beta";
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < 5; i++)
            sum += take(16, 1);
        for (int i = 0; i < 3; i++)
            sum += take(32, 2);
        for (int i = 0; i < 2; i++)
            sum += take(1000, 1);
        sum += name_len("alpha") + name_len("alpha") + name_len("beta");
        for (int i = 0; i < 4; i++)
            sum += twice(i);
        for (int i = 0; i < 7; i++) {
            char *volatile p = malloc(12345);
            sum += p != NULL;
            free(p);
        }
        DTRACE_PROBE2(argwork, item, r, "x");
        if (pause_us > 0)
            usleep(pause_us);
    }
    printf("%ld\n", sum);
    return 0;
}
