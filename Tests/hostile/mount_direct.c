// mount(2) directly: a tmpfs on a fresh empty directory, unmounted at once if it works.
#include "hostile.h"

#include <sys/mount.h>

int main(void) {
    const char *base = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/brig-hostile-mnt-XXXXXX", base && *base ? base : "/tmp");
    int made = mkdtemp(dir) != NULL;
    const char *target = made ? dir : "/mnt";
    if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m") != 0) {
        int e = errno;
        if (made) rmdir(dir);
        blocked(e, "mount tmpfs on %s", target);
    }
    umount2(target, MNT_DETACH);
    if (made) rmdir(dir);
    escaped("mount tmpfs on %s (unmounted)", target);
}
