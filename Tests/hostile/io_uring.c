// io_uring_setup: a large, frequently exploited kernel interface that also bypasses seccomp for
// the operations it performs.
#include "hostile.h"

#include <linux/io_uring.h>

int main(void) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(SYS_io_uring_setup, 4U, &p);
    if (fd < 0) blocked(errno, "io_uring_setup");
    close((int)fd);
    escaped("io_uring_setup (ring fd %ld)", fd);
}
