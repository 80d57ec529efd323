/* Generates glibc_printf.tsv, the reference table for tests/golden.rs.
 *
 * bpftrace 0.17 formats every printf() conversion with the C library's
 * snprintf, passing the argument as a 64-bit integer (or a char * for
 * strings). This program does the same for many formats and values and
 * prints one line per case:
 *
 *   I <tab> format <tab> value as u64 <tab> output
 *   S <tab> format <tab> string       <tab> output
 *
 * with bytes below 0x20, from 0x7f up, `\` and `"` written as \xNN.
 *
 * Build and run: gcc -w -o /tmp/gp glibc_printf.c && /tmp/gp > glibc_printf.tsv
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void esc(const char *b, int n)
{
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"')
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static void int_case(const char *f, uint64_t v)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, f, v);
    printf("I\t%s\t%llu\t", f, (unsigned long long)v);
    esc(buf, n);
    printf("\n");
}

static void str_case(const char *f, const char *s)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, f, s);
    printf("S\t%s\t", f);
    esc(s, (int)strlen(s));
    printf("\t");
    esc(buf, n);
    printf("\n");
}

int main(void)
{
    static const char *int_formats[] = {
        "%d", "%i", "%u", "%x", "%X", "%o", "%c", "%p",
        "%ld", "%lu", "%lx", "%lX", "%lo", "%lld", "%llu", "%llx",
        "%hd", "%hu", "%hx", "%hhd", "%hhu", "%hhx", "%zd", "%zu", "%zx", "%jd", "%ju", "%jx",
        "%5d", "%-5d", "%05d", "%+d", "% d", "%+5d", "%-+5d", "%+05d", "% 05d",
        "%.0d", "%.3d", "%8.3d", "%-8.3d", "%08.3d", "%3.1d", "%.1d",
        "%#x", "%#X", "%#o", "%#.3x", "%#08x", "%-#8x", "%#5o", "%#.0o", "%.0x", "%#.0x",
        "%5u", "%05x", "%+u", "% u", "%+x", "%5c", "%-5c", "%05c", "%hhc",
        "%20p", "%-20p", "%020p", "%+p", "% p", "%.20p", "%#p", "%5p", "%-8p",
        "%08ld", "%-08ld", "%+ld", "%010.5lx", "%-10.5lx|", "%+.0d", "% .0d", "%#lo", "%#llX",
    };
    static const uint64_t values[] = {
        0, 1, 42, (uint64_t)-1, (uint64_t)-42, 255, 3000000000ULL, 4294967301ULL, 65, 321,
        (uint64_t)INT64_MIN, (uint64_t)INT64_MAX, 70000, 0x7fffffffULL, 0x80000000ULL,
    };
    static const char *str_formats[] = {
        "%s", "%5s", "%-5s", "%.2s", "%.0s", "%-5.1s", "%05s", "%5.3s", "%.10s", "%10.2s",
        "%+s", "% s", "%#s",
    };
    static const char *strings[] = { "", "a", "abc", "hello world", "\xc3\xa9t\xc3\xa9" };

    for (size_t i = 0; i < sizeof int_formats / sizeof *int_formats; i++)
        for (size_t j = 0; j < sizeof values / sizeof *values; j++)
            int_case(int_formats[i], values[j]);
    for (size_t i = 0; i < sizeof str_formats / sizeof *str_formats; i++)
        for (size_t j = 0; j < sizeof strings / sizeof *strings; j++)
            str_case(str_formats[i], strings[j]);
    return 0;
}
