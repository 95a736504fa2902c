// The new mount API: fsopen("tmpfs"). Only a filesystem context is made (nothing is mounted).
#include "hostile.h"

#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif

int main(void) {
    long fd = syscall(SYS_fsopen, "tmpfs", 0U);
    if (fd < 0) blocked(errno, "fsopen(\"tmpfs\")");
    close((int)fd);
    escaped("fsopen(\"tmpfs\") (a filesystem context, closed)");
}
