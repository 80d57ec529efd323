/* For the attach-point tests: USDT probes in two providers, and calls into
 * libattach.so (attach_lib.c), which has a probe and a function of its own.
 *   appone:probe1 (s32 i)   appone:probe2 (s32 i)   apptwo:probe2 (s32 100+i)
 * argv[1] = iterations (default 3; 0 = forever), argv[2] = ms between them
 * (default 0). Build: gcc -O1 -g attach_app.c -L. -lattach -Wl,-rpath,'$ORIGIN' */
#include <stdlib.h>
#include <sys/sdt.h>
#include <unistd.h>

int handler(int i);

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3;
    int ms = argc > 2 ? atoi(argv[2]) : 0;
    for (int i = 0; n == 0 || i < n; i++) {
        DTRACE_PROBE1(appone, probe1, i);
        DTRACE_PROBE1(appone, probe2, i);
        DTRACE_PROBE1(apptwo, probe2, 100 + i);
        handler(i);
        if (ms > 0)
            usleep(ms * 1000);
    }
    return 0;
}
