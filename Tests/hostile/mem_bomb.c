// A bounded memory bomb: first tries to lift RLIMIT_AS, then maps and touches 16 MiB chunks
// until that fails or MAX_MIB are in use. ESCAPED when it got MAX_MIB.
// usage: mem_bomb MAX_MIB
#include "hostile.h"

#include <sys/mman.h>
#include <sys/resource.h>

int main(int argc, char **argv) {
    if (argc != 2) usage("mem_bomb MAX_MIB");
    long max = atol(argv[1]);
    if (max <= 0) usage("mem_bomb MAX_MIB (> 0)");
    struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
    (void)setrlimit(RLIMIT_AS, &rl);
    const size_t chunk = 16UL << 20;
    long got = 0;
    while (got < max) {
        void *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) blocked(errno, "memory bomb (stopped at %ld MiB)", got);
        memset(p, 0x5a, chunk);
        got += 16;
    }
    escaped("memory bomb (%ld MiB allocated and touched)", got);
}
