/* exits 0 at once: no libc, no dynamic loader */
#if defined(__x86_64__)
__attribute__((naked, noreturn)) void _start(void) {
    __asm__ volatile("mov $231, %eax\n\txor %edi, %edi\n\tsyscall\n");
}
#elif defined(__aarch64__)
__attribute__((naked, noreturn)) void _start(void) {
    __asm__ volatile("mov x8, #94\n\tmov x0, #0\n\tsvc #0\n");
}
#else
#error "no raw stub for this architecture"
#endif
