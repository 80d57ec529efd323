/* Fires fork_test:hit(1) in the parent, then forks; the child fires
 * fork_test:hit(2) and exits; the parent waits. For the test that forked
 * children of a traced binary are traced too (all-process mode; the test
 * runs it once the tracer's BEGIN said the probe is attached). */
#include <sys/sdt.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    DTRACE_PROBE1(fork_test, hit, 1);
    pid_t child = fork();
    if (child == 0) {
        DTRACE_PROBE1(fork_test, hit, 2);
        _exit(0);
    }
    waitpid(child, 0, 0);
    return 0;
}
