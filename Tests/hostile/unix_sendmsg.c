// Sends a datagram with sendmsg (msg_name set) to a named unix socket outside every grant;
// BPF cannot see msg_name, so every sendmsg goes through brig's gate.
// usage: unix_sendmsg PATH
#include "hostile.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    if (argc != 2) usage("unix_sendmsg PATH");
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) blocked(errno, "socket(AF_UNIX, SOCK_DGRAM)");
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(argv[1]) >= sizeof a.sun_path) usage("unix_sendmsg PATH (shorter)");
    strcpy(a.sun_path, argv[1]);
    char part1[] = "hostile-", part2[] = "sendmsg";
    struct iovec iov[2] = { { part1, 8 }, { part2, 7 } };
    struct msghdr m = { .msg_name = &a, .msg_namelen = sizeof a, .msg_iov = iov, .msg_iovlen = 2 };
    if (sendmsg(s, &m, 0) != 15) blocked(errno, "sendmsg to unix socket %s", argv[1]);
    close(s);
    escaped("sendmsg to unix socket %s", argv[1]);
}
