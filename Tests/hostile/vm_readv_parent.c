// Reads the parent's (brig's) memory with process_vm_readv.
#include "hostile.h"

#include <sys/uio.h>

int main(void) {
    pid_t ppid = getppid();
    unsigned long addr = readable_address_of(ppid);
    if (!addr) addr = (unsigned long)&main;
    char buf[64];
    struct iovec local = { buf, sizeof buf }, remote = { (void *)addr, sizeof buf };
    ssize_t n = process_vm_readv(ppid, &local, 1, &remote, 1, 0);
    if (n < 0) blocked(errno, "process_vm_readv parent %d", (int)ppid);
    escaped("process_vm_readv parent %d (%zd bytes at 0x%lx)", (int)ppid, n, addr);
}
