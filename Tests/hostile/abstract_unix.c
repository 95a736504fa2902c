// Connects to an abstract unix socket outside the sandbox (abstract sockets have no file, so
// Landlock's filesystem rules do not cover them; its ABI 6 scoping does).
// usage: abstract_unix NAME
#include "hostile.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    if (argc != 2) usage("abstract_unix NAME");
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) blocked(errno, "socket(AF_UNIX)");
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    size_t len = strlen(argv[1]);
    if (len + 1 > sizeof a.sun_path) usage("abstract_unix NAME (shorter)");
    memcpy(a.sun_path + 1, argv[1], len);
    if (connect(s, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) != 0)
        blocked(errno, "connect to abstract unix socket @%s", argv[1]);
    close(s);
    escaped("connect to abstract unix socket @%s", argv[1]);
}
