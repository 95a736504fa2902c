// splice(2) and pipe2(2) for the egress proxy's zero-copy relay (socket → pipe → socket). glibc
// declares them only under _GNU_SOURCE, which Swift's Glibc module is built without, so they are
// declared here as glibc declares them (<fcntl.h>, <unistd.h>); the symbols are glibc's own.
#include <stddef.h>
#include <sys/types.h>

extern __ssize_t splice(int __fdin, __off64_t *__offin, int __fdout, __off64_t *__offout, size_t __len, unsigned int __flags);
extern int pipe2(int __pipedes[2], int __flags);
