// Throws and catches argv[1] exceptions (default 5), then exits: the
// libstdc++ `libstdcxx:throw` USDT probe fires once per throw.
#include <cstdlib>
#include <stdexcept>

int main(int argc, char **argv)
{
    int n = argc > 1 ? std::atoi(argv[1]) : 5;
    int caught = 0;
    for (int i = 0; i < n; i++) {
        try {
            throw std::runtime_error("ustrace test");
        } catch (const std::exception &) {
            caught++;
        }
    }
    return caught == n ? 0 : 1;
}
