// A file-size bomb: first tries to lift RLIMIT_FSIZE, then writes PATH in 64 KiB pieces up to
// MAX_MIB. SIGXFSZ is ignored so that the limit shows as EFBIG (left at its default, the signal
// would kill the fixture, which also counts as blocked). The file is removed either way.
// usage: fsize_bomb PATH MAX_MIB
#include "hostile.h"

#include <signal.h>
#include <sys/resource.h>

int main(int argc, char **argv) {
    if (argc != 3) usage("fsize_bomb PATH MAX_MIB");
    const char *path = argv[1];
    long long max = atoll(argv[2]) << 20;
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
    (void)setrlimit(RLIMIT_FSIZE, &rl);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) usage("fsize_bomb: cannot create PATH");  // not the limit under test
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    long long written = 0;
    while (written < max) {
        ssize_t n = write(fd, buf, sizeof buf);
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(path);
            blocked(e, "file-size bomb (stopped at %lld bytes)", written);
        }
        written += n;
        if (n < (ssize_t)sizeof buf) {  // a short write at the limit; the next one fails
            continue;
        }
    }
    close(fd);
    unlink(path);
    escaped("file-size bomb (%lld bytes written)", written);
}
