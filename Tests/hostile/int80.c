// A 32-bit system call from a 64-bit process (int $0x80, i386 getpid = 20): the i386 table is
// a different syscall numbering a filter written for x86_64 would misread. Must be killed.
#include "hostile.h"

int main(void) {
    long ret = 20;
    __asm__ volatile("int $0x80" : "+a"(ret) : : "memory", "cc");
    if (ret == (long)getpid()) escaped("i386 syscall via int $0x80 (getpid -> %ld)", ret);
    if (ret < 0 && ret > -4096) blocked((int)-ret, "i386 syscall via int $0x80");
    char why[64];
    snprintf(why, sizeof why, "returned %ld", ret);
    blocked_why(why, "i386 syscall via int $0x80");
}
