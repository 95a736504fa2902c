// Reads the parent's (brig's) memory through /proc/PPID/mem.
#include "hostile.h"

int main(void) {
    pid_t ppid = getppid();
    unsigned long addr = readable_address_of(ppid);
    if (!addr) addr = (unsigned long)&main;  // maps unreadable: any address will do to try
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)ppid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) blocked(errno, "read parent memory %s", path);
    char buf[64];
    ssize_t n = pread(fd, buf, sizeof buf, (off_t)addr);
    if (n <= 0) blocked(n < 0 ? errno : EIO, "read parent memory %s", path);
    close(fd);
    escaped("read parent memory %s (%zd bytes at 0x%lx)", path, n, addr);
}
