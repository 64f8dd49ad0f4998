/*
 * The "event kinds" layer (`--layer BACKING MOUNTPOINT`): a passthrough FUSE file system over a
 * transport mount, so that host-made creates, deletes and renames raise real IN_CREATE,
 * IN_DELETE and IN_MOVED_FROM/TO in the guest (docs/watch.md, "Event kinds").
 *
 * The transport stays mounted at BACKING; this daemon serves MOUNTPOINT from it. Requests of
 * guest processes pass through to BACKING unchanged. Its control thread reads lines on stdin
 * ("C <rel>" the host created rel, "X <f|d> <rel>" the host deleted it, "M <old> <new>" the host
 * renamed it; paths escaped as in main.c) and performs the matching system call on MOUNTPOINT;
 * the kernel then raises the event. The daemon knows those requests by their thread id and
 * answers them from BACKING's current state *without touching BACKING* (the host already made
 * the change). It prints "K <errno> <line>" per control line (0: done).
 *
 * Raw /dev/fuse protocol, no libfuse: the helper is one static binary for two architectures,
 * and no libfuse static library or headers for both are on the build host or in the guest.
 * One request at a time on the main thread.
 */
#include "layer.h"
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/fsuid.h>

static void layer_attr(const struct stat *st, struct fuse_attr *a) {
  *a = (struct fuse_attr){.ino = st->st_ino,
                          .size = (uint64_t)st->st_size,
                          .blocks = (uint64_t)st->st_blocks,
                          .atime = (uint64_t)st->st_atim.tv_sec,
                          .mtime = (uint64_t)st->st_mtim.tv_sec,
                          .ctime = (uint64_t)st->st_ctim.tv_sec,
                          .atimensec = (uint32_t)st->st_atim.tv_nsec,
                          .mtimensec = (uint32_t)st->st_mtim.tv_nsec,
                          .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
                          .mode = st->st_mode,
                          .nlink = (uint32_t)st->st_nlink,
                          .uid = st->st_uid,
                          .gid = st->st_gid,
                          .rdev = (uint32_t)st->st_rdev,
                          .blksize = (uint32_t)st->st_blksize};
}

void layer_reply(uint64_t unique, int err, const void *data, size_t len) {
  struct fuse_out_header h = {(uint32_t)(sizeof h + (err ? 0 : len)), err ? -err : 0, unique};
  struct iovec iov[2] = {{&h, sizeof h}, {(void *)data, err ? 0 : len}};
  if (writev(layer_fd, iov, 2) < 0 && errno != ENOENT) perror("layer: reply");
}

/* Answers a lookup (or a create) with path's entry; returns its inode number, 0 when it failed. */
static ino_t layer_entry(uint64_t unique, uint64_t parent, const char *name, const char *path, unsigned ttl) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    layer_reply(unique, errno, NULL, 0);
    return 0;
  }
  struct fuse_entry_out e = {.nodeid = layer_node(parent, name, &st), .entry_valid = ttl, .attr_valid = ttl};
  layer_attr(&st, &e.attr);
  layer_reply(unique, 0, &e, sizeof e);
  return st.st_ino;
}

/* A name the control thread deletes or renames away is gone from BACKING: the kernel gets the
   node it knows, or a stand-in that is never cached, so that its unlink/rename reaches us. */
static void layer_ghost(uint64_t unique, uint64_t parent, const char *name, mode_t mode) {
  struct stat st = layer_ghost_stat(parent, name, mode);
  uint64_t id = layer_known(parent, name, &st);
  struct fuse_entry_out e = {.nodeid = id ? id : layer_node(parent, name, &st)};
  layer_attr(&st, &e.attr);
  layer_reply(unique, 0, &e, sizeof e);
}

static int layer_own(const struct fuse_in_header *h) { return layer_ctl_tid && (pid_t)h->pid == layer_ctl_tid; }

/* 1: parent/name is `want`; 2: it is a folder above `want`; 0: neither. */
static int layer_relis(uint64_t parent, const char *name, const char *want) {
  char rel[PATH_MAX], full[PATH_MAX];
  if (!want[0] || !layer_rel(parent, rel, sizeof rel)) return 0;
  size_t n = (size_t)snprintf(full, sizeof full, "%s/%s", rel, name);
  if (!strcmp(full, want)) return 1;
  return !strncmp(full, want, n) && want[n] == '/' ? 2 : 0;
}

/* The caller's fsuid/fsgid for a create, so new entries belong to the guest user; then root again. */
static void layer_as_caller(const struct fuse_in_header *h) {
  setfsuid(h->uid);
  setfsgid(h->gid);
}

static void layer_as_root(void) {
  setfsuid(0);
  setfsgid(0);
}

/* A guest's create on BACKING is done (rc its result): the entry, and what appeared noted. */
static void layer_created(const struct fuse_in_header *h, uint64_t parent, const char *name, int rc) {
  char p[PATH_MAX];
  layer_as_root();
  if (rc != 0) {
    int err = errno;
    layer_recent_done(parent, name, 0, 0);
    return layer_reply(h->unique, err, NULL, 0);
  }
  if (!layer_path(parent, name, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
  layer_recent_done(parent, name, 1, layer_entry(h->unique, parent, name, p, LAYER_TTL));
}

/* The control thread's create, delete or rename: the result BACKING already shows, or ENOENT. */
static void layer_own_op(const struct fuse_in_header *h, uint64_t parent, const char *name) {
  char p[PATH_MAX];
  struct stat st;
  if (!layer_path(parent, name, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
  /* The host said it is gone: the transport's caches may still show it for a while, and nothing
     of BACKING is touched either way (a name the host still has is found again by the next lookup). */
  if (h->opcode == FUSE_UNLINK || h->opcode == FUSE_RMDIR) return layer_reply(h->unique, 0, NULL, 0);
  if (lstat(p, &st) != 0) return layer_reply(h->unique, errno, NULL, 0);
  layer_entry(h->unique, parent, name, p, LAYER_TTL);
}

static void layer_setattr(const struct fuse_in_header *h, const struct fuse_setattr_in *in) {
  char p[PATH_MAX];
  if (!layer_path(h->nodeid, NULL, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
  int rc = 0;
  if (in->valid & FATTR_MODE) rc = chmod(p, in->mode & 07777);
  if (!rc && (in->valid & (FATTR_UID | FATTR_GID)))
    rc = lchown(p, (in->valid & FATTR_UID) ? in->uid : (uid_t)-1, (in->valid & FATTR_GID) ? in->gid : (gid_t)-1);
  if (!rc && (in->valid & FATTR_SIZE)) rc = (in->valid & FATTR_FH) ? ftruncate((int)in->fh, (off_t)in->size) : truncate(p, (off_t)in->size);
  if (!rc && (in->valid & (FATTR_ATIME | FATTR_MTIME))) {
    struct timespec t[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    if (in->valid & FATTR_ATIME) t[0] = (in->valid & FATTR_ATIME_NOW) ? (struct timespec){0, UTIME_NOW} : (struct timespec){(time_t)in->atime, in->atimensec};
    if (in->valid & FATTR_MTIME) t[1] = (in->valid & FATTR_MTIME_NOW) ? (struct timespec){0, UTIME_NOW} : (struct timespec){(time_t)in->mtime, in->mtimensec};
    rc = utimensat(AT_FDCWD, p, t, AT_SYMLINK_NOFOLLOW);
  }
  struct stat st;
  if (rc || lstat(p, &st)) return layer_reply(h->unique, errno, NULL, 0);
  struct fuse_attr_out out = {.attr_valid = LAYER_TTL};
  layer_attr(&st, &out.attr);
  layer_reply(h->unique, 0, &out, sizeof out);
}

static void layer_readdir(const struct fuse_in_header *h, const struct fuse_read_in *in) {
  DIR *d = (DIR *)(uintptr_t)in->fh;
  static char out[LAYER_BUF];
  size_t len = 0, max = in->size < sizeof out ? in->size : sizeof out;
  if (in->offset)
    seekdir(d, (long)in->offset);
  else
    rewinddir(d);
  for (;;) {
    long before = telldir(d);
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) break;
    size_t nl = strlen(e->d_name), rec = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nl);
    if (len + rec > max) {
      seekdir(d, before);
      break;
    }
    struct fuse_dirent *fd = (struct fuse_dirent *)(out + len);
    memset(fd, 0, rec);
    *fd = (struct fuse_dirent){.ino = e->d_ino, .off = (uint64_t)telldir(d), .namelen = (uint32_t)nl, .type = e->d_type};
    memcpy(fd->name, e->d_name, nl);
    len += rec;
  }
  layer_reply(h->unique, 0, out, len);
}

static void layer_open_file(const struct fuse_in_header *h, uint32_t flags) {
  char p[PATH_MAX];
  if (!layer_path(h->nodeid, NULL, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
  int fd = open(p, (int)(flags & ~(uint32_t)(O_CREAT | O_EXCL | O_NOCTTY)) | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return layer_reply(h->unique, errno, NULL, 0);
  struct fuse_open_out out = {.fh = (uint64_t)fd};
  layer_reply(h->unique, 0, &out, sizeof out);
}

static void layer_open_dir(const struct fuse_in_header *h) {
  char p[PATH_MAX];
  if (!layer_path(h->nodeid, NULL, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
  DIR *d = opendir(p);
  if (!d) return layer_reply(h->unique, errno, NULL, 0);
  struct fuse_open_out out = {.fh = (uint64_t)(uintptr_t)d};
  layer_reply(h->unique, 0, &out, sizeof out);
}

static void layer_create(const struct fuse_in_header *h, const struct fuse_create_in *in, const char *name) {
  char p[PATH_MAX];
  struct stat st;
  if (!layer_path(h->nodeid, name, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
  layer_recent_note(h->nodeid, name, 1);
  layer_as_caller(h);
  int fd = open(p, (int)in->flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW, in->mode & ~in->umask);
  layer_as_root();
  if (fd < 0 || fstat(fd, &st) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    layer_recent_done(h->nodeid, name, 0, 0);
    return layer_reply(h->unique, err, NULL, 0);
  }
  layer_recent_done(h->nodeid, name, 1, st.st_ino);
  struct {
    struct fuse_entry_out e;
    struct fuse_open_out o;
  } out = {{.nodeid = layer_node(h->nodeid, name, &st), .entry_valid = LAYER_TTL, .attr_valid = LAYER_TTL}, {.fh = (uint64_t)fd}};
  layer_attr(&st, &out.e.attr);
  layer_reply(h->unique, 0, &out, sizeof out);
}

static void layer_rename(const struct fuse_in_header *h, uint64_t newdir, const char *from, const char *to, uint32_t flags) {
  char a[PATH_MAX], b[PATH_MAX];
  if (!layer_path(h->nodeid, from, a, sizeof a) || !layer_path(newdir, to, b, sizeof b)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
  struct stat st;
  int rc;
  if (layer_own(h))
    rc = lstat(b, &st); /* the host renamed it (the old name may linger in the transport's cache) */
  else {
    layer_recent_note(h->nodeid, from, 0);
    layer_recent_note(newdir, to, 1);
    rc = (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
    int err = errno;
    layer_recent_done(h->nodeid, from, rc == 0, 0);
    layer_recent_done(newdir, to, rc == 0, 0);
    errno = err;
  }
  if (rc != 0) return layer_reply(h->unique, errno, NULL, 0);
  layer_move(h->nodeid, from, newdir, to);
  layer_reply(h->unique, 0, NULL, 0);
}

void layer_request(const struct fuse_in_header *h, const char *arg) {
  char p[PATH_MAX], q[PATH_MAX];
  struct stat st;
  uint64_t id = h->nodeid;
  int rel;
  switch (h->opcode) {
  case FUSE_INIT: {
    const struct fuse_init_in *in = (const void *)arg;
    struct fuse_init_out out = {.major = FUSE_KERNEL_VERSION,
                                .minor = 31,
                                .max_readahead = in->max_readahead,
                                .max_write = 1 << 17,
                                .flags = in->flags & (FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES),
                                .max_pages = 32,
                                .max_background = 16,
                                .congestion_threshold = 12};
    return layer_reply(h->unique, 0, &out, sizeof out);
  }
  case FUSE_LOOKUP:
    if (layer_own(h) && layer_relis(id, arg, layer_absent) == 1) return layer_reply(h->unique, ENOENT, NULL, 0);
    if (!layer_path(id, arg, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
    if (layer_own(h) && (rel = layer_relis(id, arg, layer_present)) && lstat(p, &st) != 0)
      return layer_ghost(h->unique, id, arg, rel == 2 || layer_present_dir ? S_IFDIR | 0755 : S_IFREG | 0644);
    layer_entry(h->unique, id, arg, p, LAYER_TTL);
    return;
  case FUSE_FORGET:
    return layer_forget(id, ((const struct fuse_forget_in *)arg)->nlookup);
  case FUSE_BATCH_FORGET: {
    const struct fuse_batch_forget_in *in = (const void *)arg;
    const struct fuse_forget_one *one = (const void *)(in + 1);
    for (uint32_t i = 0; i < in->count; i++) layer_forget(one[i].nodeid, one[i].nlookup);
    return;
  }
  case FUSE_GETATTR: {
    if (!layer_path(id, NULL, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
    int gone = lstat(p, &st) != 0;
    /* The control thread's rename or delete of what the host already moved: permission checks ask for it. */
    if (gone && layer_own(h))
      st = layer_ghost_stat(id, "", S_IFDIR | 0755);
    else if (gone)
      return layer_reply(h->unique, errno, NULL, 0);
    struct fuse_attr_out out = {.attr_valid = gone ? 0 : LAYER_TTL};
    layer_attr(&st, &out.attr);
    return layer_reply(h->unique, 0, &out, sizeof out);
  }
  case FUSE_SETATTR:
    return layer_setattr(h, (const void *)arg);
  case FUSE_READLINK: {
    ssize_t n = layer_path(id, NULL, p, sizeof p) ? readlink(p, q, sizeof q) : -1;
    return layer_reply(h->unique, n < 0 ? errno : 0, q, n < 0 ? 0 : (size_t)n);
  }
  case FUSE_MKNOD:
  case FUSE_MKDIR: {
    const char *name = arg + (h->opcode == FUSE_MKNOD ? sizeof(struct fuse_mknod_in) : sizeof(struct fuse_mkdir_in));
    if (layer_own(h)) return layer_own_op(h, id, name);
    if (!layer_path(id, name, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
    layer_recent_note(id, name, 1);
    layer_as_caller(h);
    int rc = h->opcode == FUSE_MKNOD
                 ? mknod(p, ((const struct fuse_mknod_in *)arg)->mode & ~((const struct fuse_mknod_in *)arg)->umask, ((const struct fuse_mknod_in *)arg)->rdev)
                 : mkdir(p, ((const struct fuse_mkdir_in *)arg)->mode & ~((const struct fuse_mkdir_in *)arg)->umask);
    return layer_created(h, id, name, rc);
  }
  case FUSE_SYMLINK: {
    const char *target = arg + strlen(arg) + 1;
    if (layer_own(h)) return layer_own_op(h, id, arg);
    if (!layer_path(id, arg, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
    layer_recent_note(id, arg, 1);
    layer_as_caller(h);
    return layer_created(h, id, arg, symlink(target, p));
  }
  case FUSE_LINK: {
    const struct fuse_link_in *in = (const void *)arg;
    const char *name = arg + sizeof *in;
    if (!layer_path(in->oldnodeid, NULL, q, sizeof q) || !layer_path(id, name, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
    layer_recent_note(id, name, 1);
    return layer_created(h, id, name, link(q, p));
  }
  case FUSE_UNLINK:
  case FUSE_RMDIR: {
    if (layer_own(h)) return layer_own_op(h, id, arg);
    if (!layer_path(id, arg, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
    layer_recent_note(id, arg, 0);
    int err = (h->opcode == FUSE_UNLINK ? unlink(p) : rmdir(p)) ? errno : 0;
    layer_recent_done(id, arg, !err, 0);
    return layer_reply(h->unique, err, NULL, 0);
  }
  case FUSE_RENAME: {
    const char *from = arg + sizeof(struct fuse_rename_in);
    return layer_rename(h, ((const struct fuse_rename_in *)arg)->newdir, from, from + strlen(from) + 1, 0);
  }
  case FUSE_RENAME2: {
    const struct fuse_rename2_in *in = (const void *)arg;
    const char *from = arg + sizeof *in;
    return layer_rename(h, in->newdir, from, from + strlen(from) + 1, in->flags);
  }
  case FUSE_OPEN:
    return layer_open_file(h, ((const struct fuse_open_in *)arg)->flags);
  case FUSE_OPENDIR:
    return layer_open_dir(h);
  case FUSE_CREATE:
    return layer_create(h, (const void *)arg, arg + sizeof(struct fuse_create_in));
  case FUSE_READ: {
    const struct fuse_read_in *in = (const void *)arg;
    static char buf[LAYER_BUF];
    ssize_t n = pread((int)in->fh, buf, in->size < sizeof buf ? in->size : sizeof buf, (off_t)in->offset);
    return layer_reply(h->unique, n < 0 ? errno : 0, buf, n < 0 ? 0 : (size_t)n);
  }
  case FUSE_WRITE: {
    const struct fuse_write_in *in = (const void *)arg;
    ssize_t n = pwrite((int)in->fh, arg + sizeof *in, in->size, (off_t)in->offset);
    struct fuse_write_out out = {.size = n < 0 ? 0 : (uint32_t)n};
    return layer_reply(h->unique, n < 0 ? errno : 0, &out, sizeof out);
  }
  case FUSE_STATFS: {
    struct statvfs s;
    if (statvfs(layer_backing, &s) != 0) return layer_reply(h->unique, errno, NULL, 0);
    struct fuse_statfs_out out = {{.blocks = s.f_blocks,
                                   .bfree = s.f_bfree,
                                   .bavail = s.f_bavail,
                                   .files = s.f_files,
                                   .ffree = s.f_ffree,
                                   .bsize = (uint32_t)s.f_bsize,
                                   .namelen = (uint32_t)s.f_namemax,
                                   .frsize = (uint32_t)s.f_frsize}};
    return layer_reply(h->unique, 0, &out, sizeof out);
  }
  case FUSE_FLUSH:
    return layer_reply(h->unique, 0, NULL, 0);
  case FUSE_RELEASE:
    close((int)((const struct fuse_release_in *)arg)->fh);
    return layer_reply(h->unique, 0, NULL, 0);
  case FUSE_RELEASEDIR:
    closedir((DIR *)(uintptr_t)((const struct fuse_release_in *)arg)->fh);
    return layer_reply(h->unique, 0, NULL, 0);
  case FUSE_READDIR:
    return layer_readdir(h, (const void *)arg);
  case FUSE_FSYNC:
  case FUSE_FSYNCDIR: {
    const struct fuse_fsync_in *in = (const void *)arg;
    int fd = h->opcode == FUSE_FSYNC ? (int)in->fh : dirfd((DIR *)(uintptr_t)in->fh);
    return layer_reply(h->unique, ((in->fsync_flags & 1) ? fdatasync(fd) : fsync(fd)) ? errno : 0, NULL, 0);
  }
  case FUSE_FALLOCATE: {
    const struct fuse_fallocate_in *in = (const void *)arg;
    return layer_reply(h->unique, fallocate((int)in->fh, (int)in->mode, (off_t)in->offset, (off_t)in->length) ? errno : 0, NULL, 0);
  }
  case FUSE_ACCESS:
    return layer_reply(h->unique, 0, NULL, 0); /* default_permissions: the kernel checked */
  case FUSE_INTERRUPT:
    return;
  case FUSE_DESTROY:
    return layer_reply(h->unique, 0, NULL, 0);
  default:
    return layer_reply(h->unique, ENOSYS, NULL, 0);
  }
}
