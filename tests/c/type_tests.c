/* A struct with an array, a string and a pointer, passed to `take()`, for
 * the type predicate tests (is_ptr, is_array, is_str, strcap). Built
 * with -g -O0 so the call and its DWARF types stay. */
#include <string.h>

struct item {
    int nums[4];
    char name[8];
    unsigned short id;
};

__attribute__((noinline)) void take(struct item *it, long n) { (void)it; (void)n; }

int main(void)
{
    struct item it = { { 1, 2, 3, 4 }, "item", 7 };
    take(&it, 5);
    return 0;
}
