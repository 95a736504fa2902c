// An x32 system call (number | 0x40000000; x32 getpid = 39). Must be killed.
#include "hostile.h"

int main(void) {
    long ret = syscall(39 | 0x40000000L);
    if (ret == (long)getpid()) escaped("x32 syscall (getpid -> %ld)", ret);
    if (ret < 0) blocked(errno, "x32 syscall");
    char why[64];
    snprintf(why, sizeof why, "returned %ld", ret);
    blocked_why(why, "x32 syscall");
}
