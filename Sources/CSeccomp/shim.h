/// libseccomp for Swift. The function-like macros (SCMP_ACT_ERRNO, SCMP_A0...) do not import,
/// so they are wrapped here as static inline functions.
#include <seccomp.h>
#include <stdint.h>

static inline uint32_t brig_scmp_act_errno(uint16_t err) { return SCMP_ACT_ERRNO(err); }
static inline uint32_t brig_scmp_act_kill_process(void) { return SCMP_ACT_KILL_PROCESS; }
static inline uint32_t brig_scmp_act_notify(void) { return SCMP_ACT_NOTIFY; }
static inline uint32_t brig_scmp_act_allow(void) { return SCMP_ACT_ALLOW; }

/// One argument comparison, built without the variadic/compound-literal macros.
static inline struct scmp_arg_cmp brig_scmp_arg(unsigned int arg, enum scmp_compare op,
                                                uint64_t datum_a, uint64_t datum_b) {
    struct scmp_arg_cmp c = { .arg = arg, .op = op, .datum_a = datum_a, .datum_b = datum_b };
    return c;
}
