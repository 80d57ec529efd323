/* libattach.so for attach_app.c: handler(i) fires libattach:lib_probe (s32 i)
 * and returns i * 2. Build: gcc -O1 -g -shared -fPIC attach_lib.c -o libattach.so */
#include <sys/sdt.h>

__attribute__((noinline)) int handler(int i)
{
    DTRACE_PROBE1(libattach, lib_probe, i);
    __asm__ volatile("" ::: "memory");
    return i * 2;
}
