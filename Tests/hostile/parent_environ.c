// Reads the parent's (brig's) environment through /proc/PPID/environ: brig's environment holds
// whatever the host gave it (API keys...), which the allow-list keeps from the child.
#include "hostile.h"

int main(void) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)getppid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) blocked(errno, "read parent environ %s", path);
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) blocked(errno, "read parent environ %s", path);
    if (n == 0) blocked_why("empty", "read parent environ %s", path);
    close(fd);
    int vars = 0;
    for (ssize_t i = 0; i < n; i++) vars += buf[i] == 0;
    escaped("read parent environ %s (%zd bytes, %d variables)", path, n, vars);
}
