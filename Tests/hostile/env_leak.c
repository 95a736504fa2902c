// Looks for a variable from brig's environment that the allow-list should have kept back.
// usage: env_leak NAME
#include "hostile.h"

int main(int argc, char **argv) {
    if (argc != 2) usage("env_leak NAME");
    const char *v = getenv(argv[1]);
    if (v) escaped("environment variable %s (%zu characters)", argv[1], strlen(v));
    blocked_why("not set", "environment variable %s", argv[1]);
}
