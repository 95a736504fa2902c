// bpf(BPF_MAP_CREATE): the eBPF subsystem (a small array map, freed when closed).
#include "hostile.h"

#include <linux/bpf.h>

int main(void) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = 1;
    long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a);
    if (fd < 0) blocked(errno, "bpf(BPF_MAP_CREATE)");
    close((int)fd);
    escaped("bpf(BPF_MAP_CREATE) (map fd %ld)", fd);
}
