// The glibc functions brig uses that glibc declares only under _GNU_SOURCE, which Swift's Glibc
// module is built without. Declared here as glibc declares them, spelled in C's own types
// (x86-64 and aarch64 glibc: ssize_t and off64_t are long, size_t and pthread_t unsigned long),
// so that this module includes no system header and adds no type of its own to its users'
// declarations; the symbols are glibc's own.
//   splice(2), pipe2(2): the egress proxy's zero-copy relay (socket → pipe → socket).
//   pthread_setname_np: a thread's name in /proc (one prctl for the calling thread, where
//   writing /proc/thread-self/comm is an open, a write and a close on every thread start).

extern long splice(int __fdin, long *__offin, int __fdout, long *__offout, unsigned long __len, unsigned int __flags);
extern int pipe2(int __pipedes[2], int __flags);
extern int pthread_setname_np(unsigned long __target_thread, const char *__name);
