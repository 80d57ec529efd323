/* The semaphore-guarded probe of probes_many (see probes_many.c).
 * _SDT_HAS_SEMAPHORES makes every probe of this file reference a
 * PROVIDER_NAME_semaphore variable in the .probes section, which a tracer
 * increments (through the kernel's uprobe ref_ctr_offset) while attached. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short sem_guarded_semaphore __attribute__((unused)) __attribute__((section(".probes")));

int __attribute__((noinline)) fire_guarded(int i)
{
    if (__builtin_expect(*(volatile unsigned short *)&sem_guarded_semaphore, 0)) {
        DTRACE_PROBE2(sem, guarded, i, (long)i * 2);
        return 1;
    }
    return 0;
}
