// Lists /proc/self/fd: any descriptor >= 3 was inherited from brig (or brig's parent).
#include "hostile.h"

#include <dirent.h>

int main(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) blocked(errno, "list /proc/self/fd");
    int own = dirfd(d);
    char found[1024] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd < 3 || fd == own) continue;
        char link[64], target[256];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
        size_t len = strlen(found);
        snprintf(found + len, sizeof found - len, "%s%d -> %s", len ? ", " : "", fd, target);
    }
    closedir(d);
    if (found[0]) escaped("inherited descriptors (%s)", found);
    blocked_why("only 0, 1 and 2 are open", "inherited descriptors");
}
