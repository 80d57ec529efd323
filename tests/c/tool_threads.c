// Known work for uthreads -l c and uobjnew -l c: three threads start
// worker(), and seven blocks of 4321 bytes are allocated with malloc().
// It then lives 300 ms more, so that a tracer reading its records names
// worker() from the live process's maps.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *worker(void *arg) {
    return arg;
}

int main(void) {
    pthread_t threads[3];
    for (int i = 0; i < 3; i++) {
        if (pthread_create(&threads[i], NULL, worker, NULL) != 0) {
            return 1;
        }
        pthread_join(threads[i], NULL);
    }
    void *blocks[7];
    for (int i = 0; i < 7; i++) {
        blocks[i] = malloc(4321);
    }
    for (int i = 0; i < 7; i++) {
        free(blocks[i]);
    }
    puts("done");
    fflush(stdout);
    usleep(300 * 1000);
    return 0;
}
