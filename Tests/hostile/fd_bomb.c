// An fd bomb: first tries to lift RLIMIT_NOFILE to its hard limit or beyond, then opens
// /dev/null until that fails or MAX descriptors are open. ESCAPED when it got MAX.
// usage: fd_bomb MAX
#include "hostile.h"

#include <sys/resource.h>

int main(int argc, char **argv) {
    if (argc != 2) usage("fd_bomb MAX");
    long max = atol(argv[1]);
    if (max <= 0) usage("fd_bomb MAX (> 0)");
    struct rlimit rl = { (rlim_t)max + 64, (rlim_t)max + 64 };
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    long count = 0;
    while (count < max) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) blocked(errno, "fd bomb (stopped after %ld descriptors)", count);
        count++;
    }
    escaped("fd bomb (%ld descriptors open)", count);
}
