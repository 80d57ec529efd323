/* Shared library with USDT probes, loaded by probes_many (see there).
 *   lib:hello (s32 i, u64 pointer to "hello")
 *   lib:twice (s32 site) inlined at two sites, site = 1, 2 */
#include <sys/sdt.h>

static const char hello_str[] = "hello";

static inline __attribute__((always_inline)) void twice(int site)
{
    DTRACE_PROBE1(lib, twice, site);
}

static void __attribute__((noinline)) twice_a(void) { twice(1); }
static void __attribute__((noinline)) twice_b(void) { twice(2); }

int lib_hello(int i)
{
    DTRACE_PROBE2(lib, hello, i, hello_str);
    twice_a();
    twice_b();
    return i + 1;
}
