/* A probe whose site is a 1-byte nop followed by a 10-byte nop
 * (66 2e 0f 1f 84 00 00 00 00 00), the shape newer USDT headers emit so
 * that future kernels can optimize a uprobe placed on the 10-byte nop. The
 * note still points at the 1-byte nop. Also one classic probe for contrast.
 *   nop10:site    (s32 argc)
 *   nop10:classic (s32 argc)
 * Run: nop10 [ITERATIONS]  fires both probes ITERATIONS times (default 1). */
#include <sys/sdt.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1;
    for (int i = 0; i < n; i++) {
        DTRACE_PROBE1(nop10, classic, argc);
#undef _SDT_NOP
#define _SDT_NOP nop; .byte 0x66; .byte 0x2e; .byte 0x0f; .byte 0x1f; .byte 0x84; .byte 0x00; .byte 0x00; .byte 0x00; .byte 0x00; .byte 0x00
        DTRACE_PROBE1(nop10, site, argc);
    }
    return 0;
}
