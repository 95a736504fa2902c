// Installed with file capabilities (setcap cap_dac_override+ep): did exec grant any capability?
// It then tries to read /etc/shadow with them.
#include "hostile.h"

static unsigned long long cap_eff(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return ~0ULL;
    char line[256];
    unsigned long long v = ~0ULL;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &v) == 1) break;
    fclose(f);
    return v;
}

int main(void) {
    unsigned long long eff = cap_eff();
    int fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
    int e = errno;
    char buf[64];
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
    if (eff == ~0ULL) escaped("file capabilities: /proc/self/status unreadable, cannot tell (shadow fd %d)", fd);
    if (eff != 0 || n > 0)
        escaped("file capabilities (CapEff %016llx, /etc/shadow %s)", eff, n > 0 ? "read" : "not read");
    char why[256];
    snprintf(why, sizeof why, "CapEff 0, /etc/shadow: %s", strerror(e));
    blocked_why(why, "file capabilities cap_dac_override+ep");
}
