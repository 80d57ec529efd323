/* Probes whose argument specs cover every x86-64 form ustrace reads, with
 * known values: registers of every width (including %ah and r8-r15
 * sub-registers), memory with offset, (%reg), SIB, rip-relative, immediates,
 * and a 12-argument probe. The registers are set by hand in inline asm so
 * the specs and values are exact. Fires each probe once per loop
 * iteration; argv[1] = iterations (default 1), then exits. */
#include <sys/sdt.h>
#include <stdlib.h>

long global_value = -123456789;
int global_array[4] = { 10, -20, 30, -40 };

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1;
    int local[4] = { 7, -8, 9, -10 };
    for (int i = 0; i < n; i++) {
        /* rax = -5: every width of rax, signed and unsigned, and %ah. */
        __asm__ __volatile__(
            "movq $-5, %%rax\n"
            STAP_PROBE_ASM(specs, rax_widths, -1@%%al 1@%%al -2@%%ax 2@%%ax -4@%%eax 4@%%eax -8@%%rax 8@%%rax 1@%%ah -1@%%ah)
            ::: "rax", "memory");
        /* r8-r15 sub-registers, and the other legacy registers. */
        __asm__ __volatile__(
            "movq $0x1234, %%r13\n"
            "movq $-2, %%r8\n"
            "movq $300, %%rsi\n"
            "movq $0x7f01, %%rdx\n"
            "movq $-9, %%r15\n"
            STAP_PROBE_ASM(specs, regs, 2@%%r13w 1@%%r13b 4@%%r13d -4@%%r8d -1@%%r8b 2@%%si 1@%%sil 1@%%dh -8@%%r15)
            ::: "r13", "r8", "rsi", "rdx", "r15", "memory");
        /* Memory: base+offset, (base), SIB with scale, rip-relative. */
        __asm__ __volatile__(
            "movq %0, %%rbx\n"
            "movq $2, %%rcx\n"
            STAP_PROBE_ASM(specs, memory, -4@4(%%rbx) -4@(%%rbx) -4@(%%rbx,%%rcx,4) -4@-4(%%rbx,%%rcx,4) -8@global_value(%%rip) -4@global_array+4(%%rip) 4@global_array+12(%%rip))
            :: "r"(local) : "rbx", "rcx", "memory");
        /* Immediates. */
        __asm__ __volatile__(
            STAP_PROBE_ASM(specs, immediates, -4@$-7 8@$42 -8@$0x10 1@$255)
            ::: "memory");
        /* Twelve arguments from C. */
        long a = i;
        STAP_PROBE12(specs, twelve, a + 1, a + 2, a + 3, a + 4, a + 5, a + 6,
                     a + 7, a + 8, a + 9, a + 10, a + 11, a + 12);
    }
    return 0;
}
