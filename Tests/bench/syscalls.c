// A syscall-heavy child for scripts/bench: N cheap system calls, timed from inside, so that
// process start-up does not blur the per-call cost of the seccomp filter.
//   syscalls [N] [getppid|fstat]
//   syscalls --floor ...   first installs a one-instruction allow-all seccomp filter: the
//                          cost of having any filter at all on this kernel, brig's floor.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int arg = 1;
    if (argc > 1 && strcmp(argv[1], "--floor") == 0) {
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = { .len = 1, .filter = &allow };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
            perror("seccomp");
            return 1;
        }
        arg++;
    }
    long n = argc > arg ? atol(argv[arg]) : 1000000;
    int use_fstat = argc > arg + 1 && strcmp(argv[arg + 1], "fstat") == 0;
    struct timespec a, b;
    struct stat st;
    clock_gettime(CLOCK_MONOTONIC, &a);
    long sum = 0;
    for (long i = 0; i < n; i++) sum += use_fstat ? syscall(SYS_fstat, 2, &st) : syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    // stderr: brig relays only JSON-RPC on stdout.
    fprintf(stderr, "syscalls %ld ns_per_call %.1f check %ld\n", n, ns / n, sum != 0 || use_fstat);
    return 0;
}
