// Compatibility, not an escape: clone3 must fail with ENOSYS (its flags live in memory a seccomp
// filter cannot read, so brig refuses it that way) and libc must then fall back to clone, so
// threads still work. Prints BLOCKED clone3 ...: <errno> (threads ok|threads FAILED) when
// clone3 fails, ESCAPED when clone3 is available (unconfined). A clone3 child exits at once.
#include "hostile.h"

#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static void *thread_main(void *arg) { return arg; }

int main(void) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) _exit(0);
    int e = errno;
    if (pid > 0) {
        int status;
        waitpid((pid_t)pid, &status, 0);
    }
    pthread_t t;
    void *ret = NULL;
    int ok = pthread_create(&t, NULL, thread_main, (void *)1) == 0 && pthread_join(t, &ret) == 0 && ret == (void *)1;
    if (pid > 0) escaped("clone3 (compat: available; threads %s)", ok ? "ok" : "FAILED");
    blocked(e, "clone3 (compat: threads %s)", ok ? "ok" : "FAILED");
}
