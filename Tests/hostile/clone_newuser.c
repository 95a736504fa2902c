// clone(CLONE_NEWUSER|CLONE_NEWNS): a new user namespace through clone instead of unshare.
// The child, if there is one, exits at once.
#include "hostile.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

int main(void) {
    long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD), NULL, NULL, NULL, 0UL);
    if (pid < 0) blocked(errno, "clone(CLONE_NEWUSER|CLONE_NEWNS)");
    if (pid == 0) _exit(0);
    int status;
    waitpid((pid_t)pid, &status, 0);
    escaped("clone(CLONE_NEWUSER|CLONE_NEWNS) (child %ld in a new user namespace)", pid);
}
