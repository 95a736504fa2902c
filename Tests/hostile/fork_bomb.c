// A bounded fork bomb: first tries to lift RLIMIT_NPROC, then forks until fork fails or MAX
// children exist. The children only wait (and die with this process); all are killed and reaped
// before it reports. ESCAPED when MAX forks all succeeded (the limit did not hold).
// usage: fork_bomb MAX
#include "hostile.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 2) usage("fork_bomb MAX");
    int max = atoi(argv[1]);
    if (max <= 0 || max > 100000) usage("fork_bomb MAX (1..100000)");
    struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
    if (setrlimit(RLIMIT_NPROC, &rl) != 0 && getrlimit(RLIMIT_NPROC, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;  // at least the hard limit
        (void)setrlimit(RLIMIT_NPROC, &rl);
    }
    pid_t *pids = calloc((size_t)max, sizeof *pids);
    if (!pids) blocked(errno, "fork bomb (no memory for the pid table)");
    pid_t self = getpid();
    int count = 0, err = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (count < max) {
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != self) _exit(0);
            for (;;) pause();
        }
        if (pid < 0) {
            err = errno;
            break;
        }
        pids[count++] = pid;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 30) {
            err = ETIMEDOUT;
            break;
        }
    }
    for (int i = 0; i < count; i++) kill(pids[i], SIGKILL);
    for (int i = 0; i < count; i++) waitpid(pids[i], NULL, 0);
    if (!err) escaped("fork bomb (%d forks, none refused)", count);
    blocked(err, "fork bomb (stopped after %d forks)", count);
}
