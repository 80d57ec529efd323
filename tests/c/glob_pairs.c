/* Patterns and strings for globmatch with a pattern known only at run
 * time: pair(pattern, text) for each line of the table. Built with -O0
 * so every call stays; the strings are copied to the stack first, so
 * their pages are present when the probe reads them. */
#include <stdio.h>

__attribute__((noinline)) void pair(const char *pattern, const char *text) { (void)pattern; (void)text; }

int main(void)
{
    static const char *const table[][2] = {
        { "lib*.so.[0-9]", "libc.so.6" },
        { "lib*.so.[0-9]", "libc.so.x" },
        { "*[!/]", "/usr/bin/" },
        { "/usr/*/python3.?", "/usr/bin/python3.11" },
        { "/usr/*/python3.??", "/usr/bin/python3.11" },
        { "[]a]b", "]b" },
        { "a\\*", "a*" },
        { "a[b", "a[b" },
    };
    for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++) {
        char pattern[32], text[32];
        snprintf(pattern, sizeof pattern, "%s", table[i][0]);
        snprintf(text, sizeof text, "%s", table[i][1]);
        pair(pattern, text);
    }
    return 0;
}
