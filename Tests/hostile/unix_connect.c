// Connects (SOCK_STREAM) to a named unix socket outside every grant, like an ssh agent's or
// docker.sock: Landlock ABI < 9 does not mediate that; brig's socket gate must.
// usage: unix_connect PATH
#include "hostile.h"

#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    if (argc != 2) usage("unix_connect PATH");
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) blocked(errno, "socket(AF_UNIX)");
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(argv[1]) >= sizeof a.sun_path) usage("unix_connect PATH (shorter)");
    strcpy(a.sun_path, argv[1]);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) blocked(errno, "connect to unix socket %s", argv[1]);
    // Prove the connection is real: the test's listener greets each connection with "pong".
    char buf[8] = {0};
    if (read(s, buf, 4) != 4) blocked(errno ? errno : EIO, "reading from unix socket %s", argv[1]);
    close(s);
    escaped("connect to unix socket %s (%s)", argv[1], buf);
}
