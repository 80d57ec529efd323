/* Types for the DWARF reader's tests: nested structs, arrays, pointers to
 * pointers, unions, enums, bitfields, typedefs, qualifiers and function
 * pointers. Each function is called once per line read from stdin (so a
 * tracer can attach first) with fixed values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum color { RED, GREEN = 5, BLUE };

struct hdr {
    uint16_t len;
    unsigned flags : 3;
    unsigned kind : 5;
    int8_t level;
};

union value {
    int64_t i;
    double d;
    char bytes[8];
};

struct req {
    int id;
    char name[16];
    struct hdr hdr;
    struct req *next;
    union value value;
    enum color color;
    int matrix[2][3];
};

typedef struct req req_t;
typedef int (*callback_t)(int);

__attribute__((noinline)) int handle(struct req *r, const char **names, req_t **pp,
                                     enum color c, unsigned long n)
{
    return r->id + (names ? 1 : 0) + (pp ? 1 : 0) + (int)c + (int)n;
}

__attribute__((noinline)) long mixed(const volatile int *cv, callback_t cb, struct hdr h,
                                     double d, _Bool b, char ch, unsigned char uc, short s,
                                     long long ll, int arr[4], void *v)
{
    return (cv ? *cv : 0) + (cb ? cb(1) : 0) + h.len + (long)d + b + ch + uc + s + ll +
           (arr ? arr[0] : 0) + (v != 0);
}

__attribute__((noinline)) int many(int a, int b, int c, int d, int e, int f, int g, long h)
{
    return a + b + c + d + e + f + g + (int)h;
}

__attribute__((noinline)) struct req make_req(int id, const char *name)
{
    struct req r;
    memset(&r, 0, sizeof r);
    r.id = id;
    strncpy(r.name, name, sizeof r.name - 1);
    return r;
}

/* A union by value, a pointer to rows of an array, a pointer into a
 * nested struct, and a const pointer to const structs. */
__attribute__((noinline)) int inspect(union value v, int (*rows)[3], struct hdr *h,
                                      enum color *colors, const struct req *const *list)
{
    return (int)v.i + rows[1][2] + h->len + (int)colors[0] + list[0]->id;
}

static int twice(int x) { return 2 * x; }

/* Always called with factor 3: gcc -O2 clones it as scaled.constprop.0
 * taking only `r` (in %rdi), and marks the clone DW_CC_nocall. */
static __attribute__((noinline)) int scaled(int factor, struct req *r)
{
    return factor * r->id;
}

/* With an argument N: N rounds at once; without: one round per line read
 * from stdin. */
int main(int argc, char **argv)
{
    char line[64];
    int rounds = argc > 1 ? atoi(argv[1]) : -1;
    while (rounds < 0 ? fgets(line, sizeof line, stdin) != NULL : rounds-- > 0) {
        struct req next = { .id = 8, .name = "next" };
        struct req r = { .id = 7, .name = "first", .next = &next, .color = GREEN };
        r.hdr.len = 42;
        r.hdr.flags = 5;
        r.hdr.kind = 17;
        r.hdr.level = -3;
        r.value.i = 1234;
        r.matrix[1][2] = 12;
        const char *names[] = { "alpha", "beta", 0 };
        req_t *p = &r;
        int arr[4] = { 1, 2, 3, 4 };
        volatile int cv = 9;
        /* Touch the strings' page so that a tracer's first read finds it. */
        if (names[0][0] != 'a' || names[1][0] != 'b')
            return 1;
        printf("%d\n", handle(&r, names, &p, BLUE, 99));
        printf("%ld\n", mixed(&cv, twice, r.hdr, 2.5, 1, 'x', 200, -5, 1LL << 40, arr, &r));
        printf("%d\n", many(1, 2, 3, 4, 5, 6, 7, 8));
        printf("%d\n", make_req(3, "made").id);
        printf("%d\n", scaled(3, &r));
        enum color colors[] = { BLUE, RED };
        const struct req *list[] = { &r, &next };
        printf("%d\n", inspect(r.value, r.matrix, &r.hdr, colors, list));
        fflush(stdout);
    }
    return 0;
}
