// Shared by the hostile fixtures: each program tries ONE escape from brig's sandbox and reports
// the outcome as a single line on stderr (stdout is the MCP JSON-RPC channel brig relays, so a
// line there would not reach the test as is; the child's stderr passes through brig unchanged):
//
//   ESCAPED <what>[ (detail)]        exit 0: the escape worked
//   BLOCKED <what>: <errno text>     exit 1: it failed
//
// A fixture killed by a signal (SIGSYS from seccomp, SIGXFSZ, ...) also counts as blocked.
// Every fixture cleans up after itself if it does escape (files removed, mounts undone, tracees
// detached), so that running it unconfined on purpose harms nothing.
#ifndef BRIG_HOSTILE_H
#define BRIG_HOSTILE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

__attribute__((noreturn, unused, format(printf, 1, 2))) static void escaped(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ESCAPED %s\n", buf);
    fflush(stderr);
    _exit(0);
}

/// `err` is an errno value (its strerror text ends the line).
__attribute__((noreturn, unused, format(printf, 2, 3))) static void blocked(int err, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "BLOCKED %s: %s\n", buf, strerror(err));
    fflush(stderr);
    _exit(1);
}

/// Same, with a free-form reason instead of an errno.
__attribute__((noreturn, unused, format(printf, 2, 3))) static void blocked_why(const char *why, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "BLOCKED %s: %s\n", buf, why);
    fflush(stderr);
    _exit(1);
}

/// Usage errors are neither: exit 2.
__attribute__((noreturn, unused)) static void usage(const char *text) {
    fprintf(stderr, "usage: %s\n", text);
    _exit(2);
}

/// The first readable mapping of process `pid` (from /proc/PID/maps), or 0.
__attribute__((unused)) static unsigned long readable_address_of(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[512];
    unsigned long start = 0, end = 0, found = 0;
    char perms[8];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 && perms[0] == 'r' && !strstr(line, "[vvar")
            && !strstr(line, "[vsyscall]")) {
            found = start;
            break;
        }
    }
    fclose(f);
    return found;
}

#endif
