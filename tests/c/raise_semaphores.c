/* LD_PRELOAD helper for scripts/ruby-probe-stress.sh: raises USDT
 * semaphores of a loaded library with no tracer at all, so that a
 * program runs its "probe enabled" paths without any uprobe or BPF.
 * RAISE_LIB: a substring of the library's path; RAISE_SEMS: the
 * semaphores' link-time addresses, comma-separated (ustrace -lv lists
 * them as "semaphore offset"). */
#define _GNU_SOURCE
#include <link.h>
#include <stdlib.h>
#include <string.h>

static int raise_in(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    const char *lib = getenv("RAISE_LIB");
    const char *list = getenv("RAISE_SEMS");
    if (!lib || !list || !info->dlpi_name || !strstr(info->dlpi_name, lib))
        return 0;
    char *sems = strdup(list);
    for (char *t = strtok(sems, ","); t; t = strtok(NULL, ",")) {
        unsigned short *counter = (unsigned short *)(info->dlpi_addr + strtoul(t, NULL, 0));
        *counter += 1;
    }
    free(sems);
    return 1;
}

__attribute__((constructor)) static void raise_semaphores(void)
{
    /* Processes without the library (timeout, env) are left alone. */
    dl_iterate_phdr(raise_in, NULL);
}
