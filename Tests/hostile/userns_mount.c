// unshare(CLONE_NEWUSER|CLONE_NEWNS), then mounts a tmpfs: full capabilities inside a new user
// namespace are the usual first step of a kernel exploit. The mount happens in the private mount
// namespace only (made MS_PRIVATE first), on a fresh empty directory, and is undone.
#include "hostile.h"

#include <sched.h>
#include <sys/mount.h>

int main(void) {
    const char *base = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/brig-hostile-mnt-XXXXXX", base && *base ? base : "/tmp");
    int made = mkdtemp(dir) != NULL;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
        int e = errno;
        if (made) rmdir(dir);
        blocked(e, "unshare(CLONE_NEWUSER|CLONE_NEWNS)");
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        int e = errno;
        if (made) rmdir(dir);
        blocked(e, "mount in a new user namespace (unshare worked; making / private failed)");
    }
    const char *target = made ? dir : (base && *base ? base : "/tmp");
    if (mount("tmpfs", target, "tmpfs", 0, "size=1m") != 0) {
        int e = errno;
        if (made) rmdir(dir);
        blocked(e, "mount tmpfs in a new user namespace (unshare worked)");
    }
    umount2(target, MNT_DETACH);
    if (made) rmdir(dir);
    escaped("unshare(CLONE_NEWUSER|CLONE_NEWNS) and mount tmpfs on %s (unmounted)", target);
}
