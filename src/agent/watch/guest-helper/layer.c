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
#include "helper.h"
#include <linux/fuse.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/fsuid.h>

#define LAYER_BUF (1 << 20)
#define LAYER_TTL 1

struct layer_node {
  uint64_t parent, nlookup;
  ino_t ino;
  dev_t dev;
  char *name;
  uint32_t next; /* hash chain: index+1, 0 ends */
  int used;
};

static const char *layer_backing;
static char layer_mp[PATH_MAX];
static int layer_fd = -1;
static struct layer_node *layer_nodes;
static uint64_t layer_cap;
static uint32_t layer_buckets[1 << 16];
static volatile pid_t layer_ctl_tid;
/* The control thread's operation in flight: the name it creates (answers ENOENT to its lookup)
   and the name it deletes or renames from (answered from the node table, or a ghost). */
static char layer_absent[PATH_MAX], layer_present[PATH_MAX];
static volatile int layer_present_dir;

static uint32_t layer_hash(ino_t ino) { return (uint32_t)((ino * 0x9E3779B97F4A7C15ull) >> 48); }

static char *layer_rel(uint64_t id, char *out, size_t size) {
  const char *parts[256];
  int n = 0;
  for (uint64_t i = id; i != FUSE_ROOT_ID && i < layer_cap && layer_nodes[i].used && n < 256; i = layer_nodes[i].parent) parts[n++] = layer_nodes[i].name;
  size_t len = 0;
  out[0] = 0;
  while (n-- > 0) len += (size_t)snprintf(out + len, len < size ? size - len : 0, "/%s", parts[n]);
  return len < size ? out : NULL;
}

static char *layer_path(uint64_t id, const char *name, char *out, size_t size) {
  char rel[PATH_MAX];
  if (!layer_rel(id, rel, sizeof rel)) return NULL;
  int n = snprintf(out, size, "%s%s%s%s", layer_backing, rel, name ? "/" : "", name ? name : "");
  return n > 0 && (size_t)n < size ? out : NULL;
}

static uint64_t layer_node(uint64_t parent, const char *name, const struct stat *st) {
  for (uint32_t i = layer_buckets[layer_hash(st->st_ino) & 0xffff]; i; i = layer_nodes[i - 1].next) {
    struct layer_node *n = &layer_nodes[i - 1];
    if (n->used && n->ino == st->st_ino && n->dev == st->st_dev) {
      if (strcmp(n->name, name) || n->parent != parent) {
        free(n->name);
        n->name = strdup(name);
        n->parent = parent;
      }
      n->nlookup++;
      return i - 1;
    }
  }
  uint64_t id = 2;
  while (id < layer_cap && layer_nodes[id].used) id++;
  if (id >= layer_cap) {
    uint64_t cap = layer_cap ? layer_cap * 2 : 1024;
    layer_nodes = realloc(layer_nodes, cap * sizeof *layer_nodes);
    memset(layer_nodes + layer_cap, 0, (cap - layer_cap) * sizeof *layer_nodes);
    layer_cap = cap;
  }
  struct layer_node *n = &layer_nodes[id];
  *n = (struct layer_node){parent, 1, st->st_ino, st->st_dev, strdup(name), 0, 1};
  uint32_t *b = &layer_buckets[layer_hash(st->st_ino) & 0xffff];
  n->next = *b;
  *b = (uint32_t)(id + 1);
  return id;
}

static void layer_forget(uint64_t id, uint64_t count) {
  if (id == FUSE_ROOT_ID || id >= layer_cap || !layer_nodes[id].used) return;
  struct layer_node *n = &layer_nodes[id];
  if (n->nlookup > count) {
    n->nlookup -= count;
    return;
  }
  for (uint32_t *p = &layer_buckets[layer_hash(n->ino) & 0xffff]; *p; p = &layer_nodes[*p - 1].next) {
    if (*p - 1 == id) {
      *p = n->next;
      break;
    }
  }
  free(n->name);
  memset(n, 0, sizeof *n);
}

static void layer_attr(const struct stat *st, struct fuse_attr *a) {
  *a = (struct fuse_attr){.ino = st->st_ino, .size = (uint64_t)st->st_size, .blocks = (uint64_t)st->st_blocks,
                          .atime = (uint64_t)st->st_atim.tv_sec, .mtime = (uint64_t)st->st_mtim.tv_sec, .ctime = (uint64_t)st->st_ctim.tv_sec,
                          .atimensec = (uint32_t)st->st_atim.tv_nsec, .mtimensec = (uint32_t)st->st_mtim.tv_nsec, .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
                          .mode = st->st_mode, .nlink = (uint32_t)st->st_nlink, .uid = st->st_uid, .gid = st->st_gid, .rdev = (uint32_t)st->st_rdev,
                          .blksize = (uint32_t)st->st_blksize};
}

static void layer_reply(uint64_t unique, int err, const void *data, size_t len) {
  struct fuse_out_header h = {(uint32_t)(sizeof h + (err ? 0 : len)), err ? -err : 0, unique};
  struct iovec iov[2] = {{&h, sizeof h}, {(void *)data, err ? 0 : len}};
  if (writev(layer_fd, iov, 2) < 0 && errno != ENOENT) perror("layer: reply");
}

static void layer_entry(uint64_t unique, uint64_t parent, const char *name, const char *path, unsigned ttl) {
  struct stat st;
  if (lstat(path, &st) != 0) return layer_reply(unique, errno, NULL, 0);
  struct fuse_entry_out e = {.nodeid = layer_node(parent, name, &st), .entry_valid = ttl, .attr_valid = ttl};
  layer_attr(&st, &e.attr);
  layer_reply(unique, 0, &e, sizeof e);
}

/* A name the control thread deletes or renames away is gone from BACKING: the kernel gets the
   node it knows, or a stand-in that is never cached, so that its unlink/rename reaches us. */
static struct stat layer_ghost_stat(uint64_t parent, const char *name, int dir) {
  return (struct stat){.st_ino = ((uint64_t)1 << 62) + parent * 131 + layer_hash((ino_t)name[0]), .st_nlink = 1, .st_mode = dir ? S_IFDIR | 0755 : S_IFREG | 0644};
}

static void layer_ghost(uint64_t unique, uint64_t parent, const char *name, int dir) {
  struct stat st = layer_ghost_stat(parent, name, dir);
  struct fuse_entry_out e = {.nodeid = layer_node(parent, name, &st)};
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

/* Sets the caller's fsuid/fsgid for a create, so new entries belong to the guest user. */
static void layer_as(const struct fuse_in_header *h, int on) {
  setfsuid(on ? h->uid : 0);
  setfsgid(on ? h->gid : 0);
}

static void layer_created(const struct fuse_in_header *h, uint64_t parent, const char *name, int rc) {
  char p[PATH_MAX];
  layer_as(h, 0);
  if (rc != 0) return layer_reply(h->unique, errno, NULL, 0);
  if (!layer_path(parent, name, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
  layer_entry(h->unique, parent, name, p, LAYER_TTL);
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
  if (in->offset) seekdir(d, (long)in->offset);
  else rewinddir(d);
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

static void layer_open(const struct fuse_in_header *h, uint32_t flags, int dir) {
  char p[PATH_MAX];
  if (!layer_path(h->nodeid, NULL, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
  struct fuse_open_out out = {0};
  if (dir) {
    DIR *d = opendir(p);
    if (!d) return layer_reply(h->unique, errno, NULL, 0);
    out.fh = (uint64_t)(uintptr_t)d;
  } else {
    int fd = open(p, (int)(flags & ~(uint32_t)(O_CREAT | O_EXCL | O_NOCTTY)) | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return layer_reply(h->unique, errno, NULL, 0);
    out.fh = (uint64_t)fd;
  }
  layer_reply(h->unique, 0, &out, sizeof out);
}

static void layer_create(const struct fuse_in_header *h, const struct fuse_create_in *in, const char *name) {
  char p[PATH_MAX];
  struct stat st;
  if (!layer_path(h->nodeid, name, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
  layer_as(h, 1);
  int fd = open(p, (int)in->flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW, in->mode & ~in->umask);
  layer_as(h, 0);
  if (fd < 0 || fstat(fd, &st) != 0) return layer_reply(h->unique, errno, NULL, 0);
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
  if (layer_own(h)) rc = lstat(b, &st); /* the host renamed it (the old name may linger in the transport's cache) */
  else rc = (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
  if (rc != 0) return layer_reply(h->unique, errno, NULL, 0);
  if (lstat(b, &st) == 0) {
    uint64_t id = layer_node(newdir, to, &st);
    layer_forget(id, 1); /* the kernel's count did not change: a rename is no lookup */
  }
  layer_reply(h->unique, 0, NULL, 0);
}

static void layer_request(const struct fuse_in_header *h, const char *arg) {
  char p[PATH_MAX], q[PATH_MAX];
  struct stat st;
  uint64_t id = h->nodeid;
  int rel;
  switch (h->opcode) {
  case FUSE_INIT: {
    const struct fuse_init_in *in = (const void *)arg;
    struct fuse_init_out out = {.major = FUSE_KERNEL_VERSION, .minor = 31, .max_readahead = in->max_readahead, .max_write = 1 << 17,
                                .flags = in->flags & (FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES), .max_pages = 32, .max_background = 16,
                                .congestion_threshold = 12};
    return layer_reply(h->unique, 0, &out, sizeof out);
  }
  case FUSE_LOOKUP:
    if (layer_own(h) && layer_relis(id, arg, layer_absent) == 1) return layer_reply(h->unique, ENOENT, NULL, 0);
    if (!layer_path(id, arg, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
    if (layer_own(h) && (rel = layer_relis(id, arg, layer_present)) && lstat(p, &st) != 0) return layer_ghost(h->unique, id, arg, rel == 2 || layer_present_dir);
    return layer_entry(h->unique, id, arg, p, LAYER_TTL);
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
    if (gone && layer_own(h)) st = layer_ghost_stat(id, "", 1);
    else if (gone) return layer_reply(h->unique, errno, NULL, 0);
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
    layer_as(h, 1);
    int rc = h->opcode == FUSE_MKNOD ? mknod(p, ((const struct fuse_mknod_in *)arg)->mode & ~((const struct fuse_mknod_in *)arg)->umask, ((const struct fuse_mknod_in *)arg)->rdev)
                                     : mkdir(p, ((const struct fuse_mkdir_in *)arg)->mode & ~((const struct fuse_mkdir_in *)arg)->umask);
    return layer_created(h, id, name, rc);
  }
  case FUSE_SYMLINK: {
    const char *target = arg + strlen(arg) + 1;
    if (layer_own(h)) return layer_own_op(h, id, arg);
    if (!layer_path(id, arg, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
    layer_as(h, 1);
    return layer_created(h, id, arg, symlink(target, p));
  }
  case FUSE_LINK: {
    const struct fuse_link_in *in = (const void *)arg;
    const char *name = arg + sizeof *in;
    if (!layer_path(in->oldnodeid, NULL, q, sizeof q) || !layer_path(id, name, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
    return layer_created(h, id, name, link(q, p));
  }
  case FUSE_UNLINK:
  case FUSE_RMDIR:
    if (layer_own(h)) return layer_own_op(h, id, arg);
    if (!layer_path(id, arg, p, sizeof p)) return layer_reply(h->unique, ENAMETOOLONG, NULL, 0);
    return layer_reply(h->unique, (h->opcode == FUSE_UNLINK ? unlink(p) : rmdir(p)) ? errno : 0, NULL, 0);
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
  case FUSE_OPENDIR:
    return layer_open(h, ((const struct fuse_open_in *)arg)->flags, h->opcode == FUSE_OPENDIR);
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
    struct fuse_statfs_out out = {{.blocks = s.f_blocks, .bfree = s.f_bfree, .bavail = s.f_bavail, .files = s.f_files, .ffree = s.f_ffree,
                                   .bsize = (uint32_t)s.f_bsize, .namelen = (uint32_t)s.f_namemax, .frsize = (uint32_t)s.f_frsize}};
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

/* lstat of a name the host just made: the transport may still hold a negative entry for it (FUSE
   keeps one for its entry timeout, 1 s for virtiofs's cache=auto), so ENOENT is retried for 1.5 s. */
static int layer_backing_stat(const char *path, struct stat *st) {
  for (int i = 0; i < 15; i++) {
    if (lstat(path, st) == 0) return 0;
    if (errno != ENOENT) return -1;
    usleep(100000);
  }
  return -1;
}

/* base + rel into out; 0 when it does not fit. */
static int layer_join(char *out, const char *base, const char *rel) {
  size_t a = strlen(base), b = strlen(rel);
  if (a + b >= PATH_MAX) return 0;
  memcpy(out, base, a);
  memcpy(out + a, rel, b + 1);
  return 1;
}

/* The control thread's operation on MOUNTPOINT: what the host already did to BACKING. */
static int layer_act(char op, char kind, const char *from, const char *to) {
  char a[PATH_MAX], b[PATH_MAX], target[PATH_MAX];
  struct stat st;
  const char *made = op == 'X' ? NULL : op == 'M' ? to : from;
  if (made && (!layer_join(b, layer_backing, made) || layer_backing_stat(b, &st) != 0)) return made[0] ? errno : EINVAL;
  if (!layer_join(a, layer_mp, from) || (op == 'M' && !layer_join(b, layer_mp, to))) return ENAMETOOLONG;
  snprintf(layer_present, sizeof layer_present, "%s", op == 'C' ? "" : from);
  snprintf(layer_absent, sizeof layer_absent, "%s", op == 'C' ? from : op == 'M' ? to : "");
  layer_present_dir = op == 'X' ? kind == 'd' : S_ISDIR(st.st_mode);
  int rc;
  if (op == 'X') rc = kind == 'd' ? rmdir(a) : unlink(a);
  else if (op == 'M') rc = rename(a, b);
  else if (S_ISDIR(st.st_mode)) rc = mkdir(a, st.st_mode & 07777);
  else if (S_ISLNK(st.st_mode)) {
    ssize_t n = readlink(b, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    rc = n < 0 ? -1 : symlink(target, a);
  } else rc = mknod(a, S_IFREG | (st.st_mode & 07777), 0);
  int err = rc ? errno : 0;
  layer_absent[0] = layer_present[0] = 0;
  return err;
}

/* One control line ("C <rel>", "X <f|d> <rel>", "M <old> <new>"): its errno, EINVAL when malformed. */
static int layer_control(char *line) {
  char op = line[0], kind = 0, *from = line + 2, *to = NULL;
  if (line[1] != ' ') return EINVAL;
  if (op == 'X') {
    kind = line[2];
    if ((kind != 'f' && kind != 'd') || line[3] != ' ') return EINVAL;
    from = line + 4;
  } else if (op == 'M') {
    if (!(to = split_field(from))) return EINVAL;
    unescape(to);
  } else if (op != 'C') {
    return EINVAL;
  }
  unescape(from);
  return layer_act(op, kind, from, to);
}

static void *layer_control_thread(void *unused) {
  (void)unused;
  static char line[2 * PATH_MAX + 8];
  layer_ctl_tid = (pid_t)syscall(SYS_gettid);
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    char copy[sizeof line];
    snprintf(copy, sizeof copy, "%s", line);
    int err = layer_control(line);
    printf("K %d %s\n", err, copy);
    fflush(stdout);
  }
  umount2(layer_mp, MNT_DETACH); /* stdin closed: the layer goes, the transport stays */
  exit(0);
}

int layer_main(const char *backing, const char *mp) {
  layer_backing = backing;
  snprintf(layer_mp, sizeof layer_mp, "%s", mp);
  layer_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (layer_fd < 0) {
    perror("layer: /dev/fuse");
    return 1;
  }
  struct stat root;
  if (stat(backing, &root) != 0) {
    perror("layer: backing");
    return 1;
  }
  char opts[128];
  snprintf(opts, sizeof opts, "fd=%d,rootmode=%o,user_id=0,group_id=0,allow_other,default_permissions", layer_fd, root.st_mode & S_IFMT);
  if (mount("hotmount", mp, "fuse.hotmount", MS_NOSUID | MS_NODEV, opts) != 0) {
    perror("layer: mount");
    return 1;
  }
  layer_nodes = calloc(1024, sizeof *layer_nodes);
  layer_cap = 1024;
  layer_nodes[FUSE_ROOT_ID] = (struct layer_node){0, 1, root.st_ino, root.st_dev, strdup(""), 0, 1};
  pthread_t t;
  pthread_create(&t, NULL, layer_control_thread, NULL);
  printf("READY\n");
  fflush(stdout);
  static char buf[LAYER_BUF + 4096];
  for (;;) {
    ssize_t n = read(layer_fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == ENOENT || errno == EAGAIN) continue;
      if (errno == ENODEV) return 0; /* unmounted */
      perror("layer: read");
      return 1;
    }
    if ((size_t)n < sizeof(struct fuse_in_header)) continue;
    layer_request((const struct fuse_in_header *)buf, buf + sizeof(struct fuse_in_header));
  }
}
