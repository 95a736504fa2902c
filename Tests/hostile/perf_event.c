// perf_event_open: a software counter on itself, user space only (what perf_event_paranoid 2
// still lets anyone open).
#include "hostile.h"

#include <linux/perf_event.h>

int main(void) {
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_TASK_CLOCK;
    a.disabled = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0UL);
    if (fd < 0) blocked(errno, "perf_event_open");
    close((int)fd);
    escaped("perf_event_open (fd %ld)", fd);
}
