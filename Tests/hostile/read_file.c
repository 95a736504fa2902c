// Reads a file the sandbox does not grant (/etc/shadow, a secret in a home directory).
// usage: read_file PATH
#include "hostile.h"

int main(int argc, char **argv) {
    if (argc != 2) usage("read_file PATH");
    const char *path = argv[1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) blocked(errno, "read %s", path);
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) blocked(errno, "read %s", path);
    close(fd);
    escaped("read %s (%zd bytes)", path, n);
}
