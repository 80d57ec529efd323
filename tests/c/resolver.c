/* Calls glibc's getaddrinfo with a numeric host (no network, no DNS), so
 * a tracer can read its arguments through libc6-dbg's debug information.
 * With an argument N: N calls. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 1;
    const char *volatile host = "127.0.0.1";
    const char *volatile service = "80";
    /* Touch the strings' page so that a tracer's first read finds it. */
    if (host[0] != '1' || service[0] != '8')
        return 1;
    while (rounds-- > 0) {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST;
        int rc = getaddrinfo(host, service, &hints, &res);
        printf("rc=%d\n", rc);
        if (res != NULL)
            freeaddrinfo(res);
    }
    return 0;
}
