/* A tiny "JIT": main copies a trampoline into an anonymous page, names it
 * in /tmp/perf-PID.map (the perf map JITs such as `python3.12 -X perf`
 * and perf-map-agent write), makes the page executable (write, then
 * execute, as JITs do: the executable mapping appears once the map names
 * it), waits until its stdin ends, calls through the trampoline into a
 * function with a USDT probe, then deletes the map and exits at once. A
 * tracer's stack at the probe shows
 * probe_here <- jitted_trampoline <- main only if it read the perf map
 * before the probe: the file is gone by the time the event is named.
 * Usage: jit_perfmap */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sdt.h>
#include <unistd.h>

__attribute__((noinline)) void probe_here(long v)
{
    DTRACE_PROBE1(jit, here, v);
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    /* push %rbp; mov %rsp,%rbp; movabs $probe_here,%rax; call *%rax;
     * pop %rbp; ret -- a frame-pointer frame, as JITs emit them. */
    unsigned char code[] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0xb8, 0, 0, 0, 0, 0, 0,
                            0,    0,    0xff, 0xd0, 0x5d, 0xc3};
    void (*target)(long) = probe_here;
    memcpy(code + 6, &target, sizeof target);
    unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return 1;
    memcpy(page, code, sizeof code);
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "%lx %zx jitted_trampoline\n", (unsigned long)page, sizeof code);
    fclose(f);
    if (mprotect(page, 4096, PROT_READ | PROT_EXEC) != 0)
        return 1;
    char buf[64];
    while (read(0, buf, sizeof buf) > 0)
        ;
    void (*jitted)(long) = (void (*)(long))page;
    jitted(1);
    unlink(path);
    return 0;
}
