// Installed setuid root (chmod 4755, owned by root) and started by an unprivileged user: did
// exec raise the effective uid? Under no_new_privs it must not.
#include "hostile.h"

int main(void) {
    uid_t ruid, euid, suid;
    getresuid(&ruid, &euid, &suid);
    if (ruid == 0) usage("setuid_probe: run me as an unprivileged user");
    if (euid == 0 || suid == 0) escaped("setuid root binary (uid %d, euid %d, saved %d)", (int)ruid, (int)euid, (int)suid);
    char why[128];
    snprintf(why, sizeof why, "euid stays %d", (int)euid);
    blocked_why(why, "setuid root binary");
}
