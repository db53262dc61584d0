/*
 * LD_PRELOAD shim for test/e2e/io-fault.test.ts: once the file named by
 * MCL_FAULT_ARM_FILE exists, every fdatasync (MCL_FAULT_OP=fdatasync), or
 * every positional write to a *.wal file (MCL_FAULT_OP=wal-write), fails with
 * EIO, as a dying disk would. Test-only: the server knows nothing of it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int armed(const char *op) {
  const char *want = getenv("MCL_FAULT_OP");
  const char *arm = getenv("MCL_FAULT_ARM_FILE");
  return want && arm && strcmp(want, op) == 0 && access(arm, F_OK) == 0;
}

static int is_wal(int fd) {
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 4) return 0;
  path[n] = '\0';
  return strcmp(path + n - 4, ".wal") == 0;
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  if (armed("fdatasync")) { errno = EIO; return -1; }
  return real(fd);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real) real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
  if (armed("wal-write") && is_wal(fd)) { errno = EIO; return -1; }
  return real(fd, buf, count, offset);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) { return pwrite64(fd, buf, count, offset); }

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  static ssize_t (*real)(int, const struct iovec *, int, off_t);
  if (!real) real = (ssize_t (*)(int, const struct iovec *, int, off_t))dlsym(RTLD_NEXT, "pwritev64");
  if (armed("wal-write") && is_wal(fd)) { errno = EIO; return -1; }
  return real(fd, iov, iovcnt, offset);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) { return pwritev64(fd, iov, iovcnt, offset); }
