// TCP to 127.0.0.1:PORT (a port the test listens on): refused under `network: none` / --net none.
// usage: inet_connect PORT
#include "hostile.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
    if (argc != 2) usage("inet_connect PORT");
    int port = atoi(argv[1]);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) blocked(errno, "socket(AF_INET)");
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) blocked(errno, "connect 127.0.0.1:%d", port);
    close(s);
    escaped("connect 127.0.0.1:%d", port);
}
