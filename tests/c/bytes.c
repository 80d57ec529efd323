/* A probe passing a pointer to 6 bytes (printable and not) and the count:
 * for buf() tests. */
#include <sys/sdt.h>

int main(void)
{
    unsigned char bytes[6] = { 0x41, 0x00, 0xff, 0x0a, 0x42, 0x7f };
    DTRACE_PROBE2(t, bytes, bytes, 6);
    return 0;
}
