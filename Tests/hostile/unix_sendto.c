// Sends a datagram with sendto(..., address) to a named unix socket outside every grant.
// usage: unix_sendto PATH
#include "hostile.h"

#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    if (argc != 2) usage("unix_sendto PATH");
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) blocked(errno, "socket(AF_UNIX, SOCK_DGRAM)");
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(argv[1]) >= sizeof a.sun_path) usage("unix_sendto PATH (shorter)");
    strcpy(a.sun_path, argv[1]);
    if (sendto(s, "hostile-sendto", 14, 0, (struct sockaddr *)&a, sizeof a) != 14) blocked(errno, "sendto unix socket %s", argv[1]);
    close(s);
    escaped("sendto unix socket %s", argv[1]);
}
