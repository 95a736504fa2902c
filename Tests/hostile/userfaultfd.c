// userfaultfd: lets a process stall the kernel inside a copy from user memory (a race-widening
// exploitation primitive). UFFD_USER_MODE_ONLY is what unprivileged users may create.
#include "hostile.h"

#include <linux/userfaultfd.h>

int main(void) {
    long fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
    if (fd < 0 && errno == EINVAL) fd = syscall(SYS_userfaultfd, O_CLOEXEC);
    if (fd < 0) blocked(errno, "userfaultfd");
    close((int)fd);
    escaped("userfaultfd (fd %ld)", fd);
}
