/*
 * The guest helper's replays: the guest-side operations that make the guest kernel's inotify fire
 * for a host change without changing a byte (docs/watch.md has the table per transport), one path
 * at a time, or for a burst the same-mode chmods on several threads after one echo-check pass.
 */
#include "helper.h"

static void fail(const char *op, const char *path) { printf("E %d %s %s\n", errno, op, path); }

/* The mode as the host has it now (dirfd/path as for statx): AT_STATX_FORCE_SYNC, because the
   transport's cached attributes (FUSE keeps them a while) may predate a host chmod, which a
   same-value chmod with the cached mode would undo. 1 when read. */
static int host_mode(int dirfd, const char *path, int flags, mode_t *mode) {
  struct statx sx;
  if (statx(dirfd, path, flags | AT_STATX_FORCE_SYNC, STATX_TYPE | STATX_MODE, &sx) != 0) return 0;
  *mode = sx.stx_mode;
  return 1;
}

/* Same-value chmod: IN_ATTRIB, and only ctime changes on the host. */
static void same_chmod(int fd, const char *path) {
  mode_t m;
  if (host_mode(fd, "", AT_EMPTY_PATH, &m) && fchmod(fd, m & 07777) != 0) fail("chmod", path);
}

/* The same, by path, for a regular file only: 1 when done. */
static int same_chmod_path(const char *path) {
  mode_t m;
  if (!host_mode(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, &m) || !S_ISREG(m)) return 0;
  if (fchmodat(AT_FDCWD, path, m & 07777, 0) == 0) return 1;
  fail("chmod", path);
  return 0;
}

/* The replay of a path already checked for echoes. A burst's paths come here from run_batch
   (their chmods on threads) only when it could not serve them; the fallocate is skipped for them
   as in the rest of the burst. */
static void replay_file_checked(enum replay_how how, long long size, long long mtime, long long ns, const char *path) {
  int burst = how == REPLAY_BURST;
  int fd = -1;
  /* The chmod first: IN_ATTRIB is what Node's fs.watch and @parcel/watcher act on, and each step
     below is a round trip to the host's file server (several for sshfs, through the agent), so
     it comes after one instead of after the open, the statx and the fallocate. */
  int chmodded = how != REPLAY_READ && same_chmod_path(path);
  if (how != REPLAY_READ) {
    /* No O_TRUNC, no O_CREAT: opening for write and closing changes no byte (IN_OPEN, IN_CLOSE_WRITE). */
    fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
      /* Allocating inside the file's size changes no byte and no size: IN_MODIFY where the
         transport forwards fallocate (virtiofs; 9p and sshfs refuse it, which raises nothing).
         The host's filesystem moves the mtime, so it is put back, and only when the guest sees
         exactly the mtime the host reported (a newer host write is never dated back). */
      /* AT_STATX_FORCE_SYNC: the transport's cached attributes (FUSE keeps them a while) may predate the host's write. */
      struct statx sx;
      if (!burst && statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx) == 0 && S_ISREG(sx.stx_mode) && sx.stx_size > 0 &&
          (long long)sx.stx_size == size && (long long)sx.stx_mtime.tv_sec == mtime && (long long)sx.stx_mtime.tv_nsec == ns &&
          fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1) == 0) {
        struct timespec t[2] = {{0, UTIME_OMIT}, {sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec}};
        if (futimens(fd, t) != 0) fail("futimens", path);
      }
      if (!chmodded) same_chmod(fd, path);
    }
  }
  if (fd < 0) {
    /* Read-only (or not ours to write): a one-byte read gives IN_OPEN, IN_ACCESS, IN_CLOSE_NOWRITE. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      if (errno != ENOENT && errno != ELOOP) fail("open", path);
      drain(path);
      return;
    }
    char c;
    if (pread(fd, &c, 1, 0) < 0 && errno != EISDIR) fail("read", path);
  }
  close(fd);
  drain(path);
}

void replay_file(enum replay_how how, long long size, long long mtime, long long ns, const char *path) {
  input_poll();
  if (!replayable(path)) return;
  drain(NULL);
  if (guest_made(path, size, mtime)) {
    printf("S %s\n", path); /* kept: a later report of the same state is the same echo */
    return;
  }
  replay_file_checked(how, size, mtime, ns, path);
}

void replay_dir(enum replay_how how, long long mtime, const char *path) {
  input_poll();
  if (!replayable(path)) return;
  drain(NULL);
  if (guest_made(path, -2, mtime)) {
    printf("S %s\n", path); /* kept: a later report of the same state is the same echo */
    return;
  }
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) fail("opendir", path);
    drain(path);
    return;
  }
  if (how != REPLAY_READ) same_chmod(fd, path);
  /* A folder the host made: track guest-made changes in it from now on (this folder only). */
  add_tree(path, GUEST_MASK, 65);
  /* One bounded read of the entries: IN_ACCESS|IN_ISDIR (with the open and close: IN_OPEN and
     IN_CLOSE_NOWRITE|IN_ISDIR) at the cost of one request, however big the folder. */
  char ents[4096];
  if (syscall(SYS_getdents64, fd, ents, sizeof ents) < 0) fail("getdents", path);
  close(fd);
  drain(path);
}

/* ---- a burst: consecutive "F b" lines are carried out together, the chmods by several threads ---- */

#define BATCH_MAX 256
#define BATCH_THREADS 8
#define OWN_SLOTS 1024
struct item {
  char path[PATH_MAX];
  long long size, mtime;
  int skip, done;
};
static struct item batch[BATCH_MAX];
static int nbatch = 0, next_item = 0;
static pthread_mutex_t batch_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *own_set[OWN_SLOTS]; /* the running batch's paths, while its events are drained */

int is_own(const char *path) {
  for (unsigned i = helper_hash(path) % OWN_SLOTS, k = 0; own_set[i] && k < OWN_SLOTS; i = (i + 1) % OWN_SLOTS, k++)
    if (!strcmp(own_set[i], path)) return 1;
  return 0;
}

/* A worker: the same-mode chmod by path (IN_ATTRIB), item after item. Guest requests are round
   trips to the host, so several in flight keep the guest's vCPUs and the host's server busy. */
static void *chmod_worker(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&batch_lock);
    int i = next_item < nbatch ? next_item++ : -1;
    pthread_mutex_unlock(&batch_lock);
    if (i < 0) return NULL;
    struct item *it = &batch[i];
    mode_t m;
    if (it->skip) continue;
    it->done = host_mode(AT_FDCWD, it->path, AT_SYMLINK_NOFOLLOW, &m) && S_ISREG(m) && fchmodat(AT_FDCWD, it->path, m & 07777, 0) == 0;
  }
}

/* Echo checks first (one thread: they read the helper's inotify), then the chmods in parallel;
   a path the chmod could not serve gets the one-path replay. */
void run_batch(void) {
  if (!nbatch) return;
  input_poll();
  drain(NULL);
  for (int i = 0; i < nbatch; i++) {
    struct item *it = &batch[i];
    it->done = 0;
    it->skip = !replayable(it->path);
    if (!it->skip && guest_made(it->path, it->size, it->mtime)) {
      printf("S %s\n", it->path);
      it->skip = 1;
    }
    if (!it->skip) {
      unsigned h = helper_hash(it->path) % OWN_SLOTS;
      while (own_set[h]) h = (h + 1) % OWN_SLOTS;
      own_set[h] = it->path;
    }
  }
  next_item = 0;
  pthread_t t[BATCH_THREADS];
  int started = 0;
  for (; started < BATCH_THREADS && started < nbatch; started++)
    if (pthread_create(&t[started], NULL, chmod_worker, NULL) != 0) break;
  if (!started) chmod_worker(NULL);
  for (int k = 0; k < started; k++) pthread_join(t[k], NULL);
  drain(NULL);
  memset(own_set, 0, sizeof own_set);
  for (int i = 0; i < nbatch; i++)
    if (!batch[i].skip && !batch[i].done) replay_file_checked(REPLAY_BURST, batch[i].size, batch[i].mtime, 0, batch[i].path);
  nbatch = 0;
}

/* A "F b" line goes into the batch (1), anything else is carried out by command() (0). */
int batch_line(char *line) {
  long long size, mtime, ns;
  int off = 0;
  if (line[0] != 'F' || strncmp(line, "F b ", 4)) return 0;
  if (sscanf(line + 4, "%lld %lld %lld %n", &size, &mtime, &ns, &off) < 3 || !off) {
    printf("E %d parse %s\n", EINVAL, line); /* reported, not dropped silently */
    return 1;
  }
  unescape(line + 4 + off);
  struct item *it = &batch[nbatch++];
  snprintf(it->path, sizeof it->path, "%s", line + 4 + off);
  it->size = size;
  it->mtime = mtime;
  if (nbatch == BATCH_MAX) run_batch();
  return 1;
}

int batch_pending(void) { return nbatch > 0; }
