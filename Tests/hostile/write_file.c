// Creates a file in a directory the sandbox does not let it write (/etc, /tmp, $HOME). The file
// has a unique name and is removed at once if the write works.
// usage: write_file DIR
#include "hostile.h"

#include <time.h>

int main(int argc, char **argv) {
    if (argc != 2) usage("write_file DIR");
    char path[4096];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(path, sizeof path, "%s/brig-hostile-%d-%ld", argv[1], (int)getpid(), (long)ts.tv_nsec);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) blocked(errno, "write in %s", argv[1]);
    ssize_t n = write(fd, "brig hostile fixture\n", 21);
    close(fd);
    unlink(path);
    escaped("write in %s (created %s, %zd bytes, removed)", argv[1], path, n);
}
