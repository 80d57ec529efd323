/* Calls for the stdlib helper tests: a MAC address in memory, an
 * argv-like array (the program's own arguments) and two byte strings to
 * compare. Built with -O0 so every call stays. */
#include <stdio.h>

__attribute__((noinline)) void mac(const unsigned char *addr) { (void)addr; }

__attribute__((noinline)) void args(char **argv) { (void)argv; }

__attribute__((noinline)) void compare(const char *a, const char *b) { (void)a; (void)b; }

int main(int argc, char **argv)
{
    /* On the stack: written here, so the pages are present when the
     * probes read them. */
    unsigned char addr[6] = { 0x18, 0xc0, 0x4d, 0x08, 0x2e, 0xbb };
    char left[16], right[16], same[16];
    (void)argc;
    snprintf(left, sizeof left, "abcdef");
    snprintf(right, sizeof right, "abcxyz");
    snprintf(same, sizeof same, "abcdef");
    mac(addr);
    args(argv);
    compare(left, right);
    compare(left, same);
    return 0;
}
