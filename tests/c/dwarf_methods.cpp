// C++ for the DWARF reader's tests: a method taking a class by reference,
// namespaces, a template, and a class passed by invisible reference.
#include <cstdio>
#include <cstdlib>
#include <string>

namespace shop {

class Item {
  public:
    int id;
    double price;
    const char *label;
};

class Cart {
  public:
    Cart() : count(0), total(0) {}
    __attribute__((noinline)) int add(const Item &item, int quantity);
    int count;
    long total;
};

int Cart::add(const Item &item, int quantity)
{
    count += quantity;
    total += item.id * quantity;
    return count;
}

template <typename T> __attribute__((noinline)) T largest(T a, T b) { return a > b ? a : b; }

__attribute__((noinline)) size_t name_length(std::string name) { return name.size(); }

} // namespace shop

// With an argument N: N rounds at once; without: one round per line read
// from stdin.
int main(int argc, char **argv)
{
    char line[64];
    int rounds = argc > 1 ? std::atoi(argv[1]) : -1;
    shop::Cart cart;
    while (rounds < 0 ? std::fgets(line, sizeof line, stdin) != nullptr : rounds-- > 0) {
        shop::Item item{42, 9.5, "apple"};
        std::printf("%d\n", cart.add(item, 3));
        std::printf("%d\n", shop::largest<int>(4, 11));
        std::printf("%zu\n", shop::name_length(std::string("pear")));
        std::fflush(stdout);
    }
    return 0;
}
