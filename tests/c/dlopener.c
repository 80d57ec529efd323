/* Loads the library argv[1] with dlopen after 300 ms (so a tracer is
 * already attached), then calls its lib_hello(0..2). */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    usleep(300000);
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    int (*hello)(int) = (int (*)(int))dlsym(h, "lib_hello");
    if (!hello)
        return 1;
    for (int i = 0; i < 3; i++)
        hello(i);
    return 0;
}
