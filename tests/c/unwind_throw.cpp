// A C++ exception thrown three calls deep, for the libstdcxx:throw stack
// test. Built with -O2 -fomit-frame-pointer. Waits argv[1] ms first (so the
// tracer has loaded the unwind tables once the program has exec'd).
#include <cstdlib>
#include <stdexcept>
#include <unistd.h>

volatile int sink;

__attribute__((noinline)) void thrower(int x) {
    if (x > 0)
        throw std::runtime_error("deep");
    sink = x;
}
__attribute__((noinline)) void middle(int x) { thrower(x + 1); sink++; }
__attribute__((noinline)) void outer(int x) { middle(x * 2); sink++; }

int main(int argc, char **argv) {
    usleep((argc > 1 ? atoi(argv[1]) : 0) * 1000);
    try {
        outer(argc);
    } catch (const std::exception &) {
        return 0;
    }
    return 1;
}
