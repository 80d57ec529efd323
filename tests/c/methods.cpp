// C++ methods for uprobe tests: ns::Counter::add(int) is called argv[1]
// times (default 4) with 1, 2, 3, ...
#include <cstdlib>

namespace ns {
class Counter {
public:
    __attribute__((noinline)) long add(int v);
    long total = 0;
};
long Counter::add(int v)
{
    total += v;
    return total;
}
} // namespace ns

int main(int argc, char **argv)
{
    int n = argc > 1 ? std::atoi(argv[1]) : 4;
    ns::Counter c;
    for (int i = 1; i <= n; i++)
        c.add(i);
    return c.total > 0 ? 0 : 1;
}
