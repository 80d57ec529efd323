/* main -> top -> mid -> leaf, for counting stack frames (len(ustack)).
 * Built with -O0 so every call and frame stays. */
__attribute__((noinline)) void leaf(void) { __asm__ volatile(""); }
__attribute__((noinline)) void mid(void) { leaf(); __asm__ volatile(""); }
__attribute__((noinline)) void top(void) { mid(); __asm__ volatile(""); }

int main(void)
{
    top();
    return 0;
}
