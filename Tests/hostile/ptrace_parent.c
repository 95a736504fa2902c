// Attaches to the parent (brig) with ptrace. If that works, waits for the attach stop and
// detaches at once (no signal delivered), leaving the parent running.
#include "hostile.h"

#include <sys/ptrace.h>
#include <sys/wait.h>

int main(void) {
    pid_t ppid = getppid();
    if (ptrace(PTRACE_ATTACH, ppid, 0, 0) != 0) blocked(errno, "ptrace(PTRACE_ATTACH) parent %d", (int)ppid);
    int status;
    (void)waitpid(ppid, &status, __WALL);
    (void)ptrace(PTRACE_DETACH, ppid, 0, 0);
    escaped("ptrace(PTRACE_ATTACH) parent %d (attached and detached)", (int)ppid);
}
