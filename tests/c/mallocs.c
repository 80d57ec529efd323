/* Calls malloc(12345) argv[1] times (default 10), freeing each block:
 * a known number of calls of a size nothing else uses. */
#include <stdlib.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    for (int i = 0; i < n; i++) {
        void *volatile p = malloc(12345);
        free(p);
    }
    return 0;
}
