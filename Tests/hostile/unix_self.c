// Not an escape: the server's own named socket in its private $TMPDIR must keep working under
// brig's socket gate (bind, listen, connect, accept, and a datagram sent to its own address).
// Prints ESCAPED (the connection worked) like the other controls, BLOCKED when it did not.
// usage: unix_self
#include "hostile.h"

#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    (void)argv;
    if (argc != 1) usage("unix_self");
    const char *tmp = getenv("TMPDIR");
    if (!tmp) blocked_why("no TMPDIR", "unix_self");
    struct sockaddr_un a = { .sun_family = AF_UNIX }, d = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s/self-%d.sock", tmp, (int)getpid());
    snprintf(d.sun_path, sizeof d.sun_path, "%s/self-%d.dgram", tmp, (int)getpid());
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 4) != 0) blocked(errno, "listening on %s", a.sun_path);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a) != 0) blocked(errno, "connect to own socket %s", a.sun_path);
    int s = accept(l, NULL, NULL);
    char buf[16] = {0};
    if (s < 0 || write(c, "hello", 5) != 5 || read(s, buf, 5) != 5) blocked(errno ? errno : EIO, "talking on own socket");
    int r = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), w = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (bind(r, (struct sockaddr *)&d, sizeof d) != 0) blocked(errno, "binding %s", d.sun_path);
    if (sendto(w, "dgram", 5, 0, (struct sockaddr *)&d, sizeof d) != 5) blocked(errno, "sendto own socket %s", d.sun_path);
    if (read(r, buf, sizeof buf) != 5) blocked(errno, "reading own datagram");
    unlink(a.sun_path);
    unlink(d.sun_path);
    escaped("own sockets in $TMPDIR work (%s)", a.sun_path);
}
