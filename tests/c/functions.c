/* Functions for the uprobe tests: add() and scale() are called once per
 * iteration with known arguments; argv[1] = iterations (default 3).
 * Build: gcc -O1 -g -fno-inline functions.c -o functions */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) long add(long a, long b)
{
    __asm__ volatile("" ::: "memory");
    return a + b;
}

__attribute__((noinline)) long scale(long a, long factor)
{
    __asm__ volatile("" ::: "memory");
    return a * factor;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3;
    long total = 0;
    for (int i = 0; i < n; i++) {
        total += add(i, 100);
        total += scale(i, -2);
    }
    printf("total: %ld\n", total);
    return 0;
}
