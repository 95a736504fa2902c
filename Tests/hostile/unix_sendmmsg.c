// Sends two datagrams with one sendmmsg (msg_name set in each) to a named unix socket outside
// every grant: the batch form of sendmsg must be gated as well.
// usage: unix_sendmmsg PATH
#include "hostile.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    if (argc != 2) usage("unix_sendmmsg PATH");
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) blocked(errno, "socket(AF_UNIX, SOCK_DGRAM)");
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(argv[1]) >= sizeof a.sun_path) usage("unix_sendmmsg PATH (shorter)");
    strcpy(a.sun_path, argv[1]);
    char one[] = "hostile-mmsg-1", two[] = "hostile-mmsg-2";
    struct iovec iov[2] = { { one, 14 }, { two, 14 } };
    struct mmsghdr m[2];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 2; i++) {
        m[i].msg_hdr.msg_name = &a;
        m[i].msg_hdr.msg_namelen = sizeof a;
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
    }
    int n = sendmmsg(s, m, 2, 0);
    if (n < 0) blocked(errno, "sendmmsg to unix socket %s", argv[1]);
    if (n != 2 || m[0].msg_len != 14 || m[1].msg_len != 14)
        blocked_why("short or uncounted batch", "sendmmsg to unix socket %s (%d sent, lengths %u %u)", argv[1], n, m[0].msg_len, m[1].msg_len);
    close(s);
    escaped("sendmmsg to unix socket %s", argv[1]);
}
