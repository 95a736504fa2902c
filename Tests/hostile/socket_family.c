// A socket of a family the sandbox refuses (only AF_UNIX, AF_INET, AF_INET6 are allowed).
// usage: socket_family netlink|packet
#include "hostile.h"

#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <arpa/inet.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
    if (argc != 2) usage("socket_family netlink|packet");
    int s;
    const char *what;
    if (strcmp(argv[1], "netlink") == 0) {
        what = "socket(AF_NETLINK, NETLINK_ROUTE)";
        s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    } else if (strcmp(argv[1], "packet") == 0) {
        what = "socket(AF_PACKET, SOCK_RAW)";
        s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    } else {
        usage("socket_family netlink|packet");
    }
    if (s < 0) blocked(errno, "%s", what);
    close(s);
    escaped("%s", what);
}
