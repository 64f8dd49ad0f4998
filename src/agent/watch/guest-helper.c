/*
 * hotmount's guest helper: makes the guest kernel's inotify fire for changes made on the host.
 *
 * virtiofs, 9p and sshfs never tell the guest kernel about host-side changes, so guest file
 * watchers stay silent. The agent watches the host folder and sends this helper one line per
 * change over one long-lived SSH channel (stdin); the helper performs guest-side operations that
 * raise inotify events without changing the file's bytes (docs/watch.md has the table per
 * transport). It also watches the mounts itself, so that a change a guest process made (which
 * the guest's watchers already saw) is not replayed when the host reports it back.
 *
 * Protocol (stdin, one command per line; paths escaped: "\\" for a backslash, "\n" for a newline):
 *   R <root>                       start tracking guest-made changes under a mount point (F and D
 *                                  are carried out only under a tracked one)
 *   U <root>                       stop tracking it; commands for paths under it that are already
 *                                  queued are skipped from the moment the helper reads the line
 *   F <w|r> <size> <mtime> <ns> <path>  a file changed on the host (its size, mtime s and ns there)
 *   D <w|r> <mtime> <path>         a folder's entries changed on the host (created, deleted, renamed)
 *   P <token>                      answers "P <token>" once every earlier command is done
 * w: the mount is writable (open for write, fallocate, same-value chmod); b: writable, in a burst
 * (the same-value chmod alone; consecutive b lines are checked for echoes together and their
 * chmods run on several threads); r: read-only (reads only).
 * Output (stdout): "P <token>", "S <path>" (skipped: the guest made that change itself),
 * "E <errno> <op> <path>" (an operation failed; the next command goes on).
 *
 * `--watch DIR`: a test watcher; prints "<EVENTS> <path>" per inotify event under DIR, recursively
 * ("READY" once the watches are set), e.g. "ATTRIB,CLOSE_WRITE /mnt/a/f". Busybox's inotifyd is
 * not recursive and the demo guest's may lack it.
 *
 * Built static (no libc in the guest is assumed) for x86_64 and aarch64.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_WATCHES 65536
#define SEEN_SLOTS 8192
#define ECHO_SLACK_S 2
#define ECHO_RECENT_S 2.0
#define GUEST_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)
#define TEST_MASK (IN_ALL_EVENTS)

static int ifd = -1;
static int is_own(const char *path);
static char *wd_path[MAX_WATCHES]; /* watch descriptor -> folder path (wds are small ints) */
static int watch_mode = 0;

/* ---- watches ---- */

/* Watches dir and the folders below it (depth > 64: dir alone). */
static void add_tree(const char *dir, uint32_t mask, int depth) {
  int wd = inotify_add_watch(ifd, dir, mask | IN_ONLYDIR | IN_DONT_FOLLOW);
  if (wd < 0 || wd >= MAX_WATCHES) return;
  free(wd_path[wd]);
  wd_path[wd] = strdup(dir);
  if (depth > 64) return;
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[PATH_MAX];
  while ((e = readdir(d))) {
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      if (lstat(p, &st) || !S_ISDIR(st.st_mode)) continue;
    }
    add_tree(p, mask, depth + 1);
  }
  closedir(d);
}

static int watched(const char *dir) {
  for (int i = 0; i < MAX_WATCHES; i++)
    if (wd_path[i] && !strcmp(wd_path[i], dir)) return 1;
  return 0;
}

/* path is root or below it */
static int under(const char *path, const char *root) {
  size_t n = strlen(root);
  return !strncmp(path, root, n) && (path[n] == 0 || path[n] == '/');
}

static void drop_root(const char *root) {
  for (int i = 0; i < MAX_WATCHES; i++) {
    if (wd_path[i] && under(wd_path[i], root)) {
      inotify_rm_watch(ifd, i);
      free(wd_path[i]);
      wd_path[i] = NULL;
    }
  }
}

/* ---- what the guest changed itself: path -> (size, mtime s) when its event was read ---- */

struct seen {
  char *path;
  long long size, mtime;
  double at; /* monotonic seconds when the helper read the guest's event */
};

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
static struct seen seen[SEEN_SLOTS];

static unsigned hash(const char *s) {
  unsigned h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static void remember(const char *path) {
  struct statx st;
  struct seen *s = &seen[hash(path) % SEEN_SLOTS];
  free(s->path);
  s->path = strdup(path);
  s->at = now_s();
  /* FORCE_SYNC: FUSE (sshfs) keeps attributes from before the write for a while; the host's are wanted. */
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &st) == 0) {
    s->size = S_ISDIR(st.stx_mode) ? -2 : (long long)st.stx_size;
    s->mtime = (long long)st.stx_mtime.tv_sec;
  } else {
    s->size = -1;
    s->mtime = -1;
  }
}

/* size -2 matches any folder: a folder's size is the transport's business. */
static int guest_made(const char *path, long long size, long long mtime) {
  struct seen *s = &seen[hash(path) % SEEN_SLOTS];
  if (!s->path || strcmp(s->path, path)) return 0;
  /* The guest changed it moments ago: the host is reporting that write, or a step of it (sshfs
     and virtiofs write behind, so the host passes through states the guest never stat-ed). */
  if (now_s() - s->at <= ECHO_RECENT_S) return 1;
  /* Within ECHO_SLACK_S: a write-back cache (virtiofs) dates the host file when it flushes,
     which may be a second or two after the guest's own view of the write. */
  return llabs(s->mtime - mtime) <= ECHO_SLACK_S && (s->size == size || (s->size == -2 && size == -2));
}

static const char *NAMES[] = {"ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN", "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "MOVE_SELF"};

/*
 * Reads what is queued. `own` (may be NULL) is the path of the operation the helper just made:
 * events for it (and for a burst batch's paths, is_own) are the helper's own and are not
 * remembered. Returns when nothing is queued.
 */
static void fill(int wait);
static int replayable(const char *path);
static int in_eof = 0; /* the agent closed the channel: nothing more to do */

static void drain(const char *own) {
  char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
  unsigned count = 0;
  for (;;) {
    ssize_t n = read(ifd, buf, sizeof buf);
    if (n <= 0) return;
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *ev = (struct inotify_event *)p;
      p += sizeof *ev + ev->len;
      if (ev->wd < 0 || ev->wd >= MAX_WATCHES || !wd_path[ev->wd]) continue;
      char path[PATH_MAX];
      if (ev->len && ev->name[0])
        snprintf(path, sizeof path, "%s/%s", wd_path[ev->wd], ev->name);
      else
        snprintf(path, sizeof path, "%s", wd_path[ev->wd]);
      if (ev->mask & IN_IGNORED) {
        free(wd_path[ev->wd]);
        wd_path[ev->wd] = NULL;
        continue;
      }
      if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) add_tree(path, watch_mode ? TEST_MASK : GUEST_MASK, 0);
      /* A folder the host made raises no IN_CREATE here: the test watcher learns of it from the
         IN_ATTRIB the replay makes on it (as a recursive watcher that rescans would). Not from
         reads: its own walk of the new folder raises those, which would loop. */
      if (watch_mode && (ev->mask & IN_ISDIR) && (ev->mask & IN_ATTRIB)) {
        if (ev->len && ev->name[0]) {
          if (!watched(path)) add_tree(path, TEST_MASK, 0);
        } else {
          add_tree(path, TEST_MASK, 0); /* its own IN_ATTRIB (9p reports no child folder events to the parent): rescan */
        }
      }
      if (watch_mode) {
        char names[256] = "";
        for (int b = 0; b < 12; b++)
          if (ev->mask & (1u << b)) {
            if (names[0]) strcat(names, ",");
            strcat(names, NAMES[b]);
          }
        if (ev->mask & IN_ISDIR) strcat(names, ",ISDIR");
        if (ev->mask & IN_Q_OVERFLOW) strcat(names, names[0] ? ",Q_OVERFLOW" : "Q_OVERFLOW");
        printf("%s %s\n", names, path);
        continue;
      }
      if ((own && !strcmp(path, own)) || is_own(path)) continue;
      /* Remembering stats the path, a guest request each: a mount being removed must not wait
         behind (or be held busy by) thousands of them, so its U is looked for as they go. */
      if (++count % 64 == 0) fill(0);
      if (in_eof) return;
      if (!replayable(path)) continue;
      remember(path);
      /* A guest-made create, delete or rename also changed its folder. */
      if (ev->len && (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO))) remember(wd_path[ev->wd]);
    }
  }
}

/* ---- input, read ahead for U: a mount being removed must not be held by a queued replay ---- */

#define INBUF (1 << 20)
#define MAX_ROOTS 256
static char inbuf[INBUF];
static size_t in_len = 0, in_off = 0, in_scan = 0;

static void unescape(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) {
      s++;
      *o++ = *s == 'n' ? '\n' : *s;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
}

/* A set of mount points: the tracked ones (R..U), and those whose U has been read but not yet reached. */
struct roots {
  char *r[MAX_ROOTS];
};
static struct roots active, leaving;

static int in_roots(const struct roots *set, const char *path) {
  for (int i = 0; i < MAX_ROOTS; i++)
    if (set->r[i] && under(path, set->r[i])) return 1;
  return 0;
}

static void set_root(struct roots *set, const char *root, int on) {
  for (int i = 0; i < MAX_ROOTS; i++)
    if (set->r[i] && !strcmp(set->r[i], root)) {
      if (on) return;
      free(set->r[i]);
      set->r[i] = NULL;
    }
  for (int i = 0; on && i < MAX_ROOTS; i++)
    if (!set->r[i]) {
      set->r[i] = strdup(root);
      return;
    }
}

/* A replay is made only under a tracked mount point that is not about to go. */
static int replayable(const char *path) { return in_roots(&active, path) && !in_roots(&leaving, path); }

/* Reads what stdin has (waiting for it when `wait`), and notes every complete "U" line read. */
static void fill(int wait) {
  if (in_eof) return;
  if (in_off && (wait || in_len == INBUF)) {
    memmove(inbuf, inbuf + in_off, in_len - in_off);
    in_len -= in_off;
    in_scan -= in_off;
    in_off = 0;
  }
  if (in_len == INBUF) return;
  struct pollfd pf = {0, POLLIN, 0};
  if (!wait && poll(&pf, 1, 0) <= 0) return;
  ssize_t n = read(0, inbuf + in_len, INBUF - in_len);
  if (n <= 0) {
    in_eof = 1;
    return;
  }
  in_len += (size_t)n;
  char *nl;
  while ((nl = memchr(inbuf + in_scan, '\n', in_len - in_scan))) {
    size_t len = (size_t)(nl - (inbuf + in_scan));
    if (len > 2 && inbuf[in_scan] == 'U' && inbuf[in_scan + 1] == ' ' && len < PATH_MAX) {
      char root[PATH_MAX];
      memcpy(root, inbuf + in_scan + 2, len - 2);
      root[len - 2] = 0;
      unescape(root);
      set_root(&leaving, root, 1);
    }
    in_scan += len + 1;
  }
}

/* The next complete line (copied into `line`), or 0 when none is buffered. */
static int next_line(char *line, size_t size) {
  char *nl = memchr(inbuf + in_off, '\n', in_len - in_off);
  if (!nl) {
    if (in_len - in_off == INBUF) in_off = in_scan = in_len = 0; /* an over-long line: dropped */
    return 0;
  }
  size_t len = (size_t)(nl - (inbuf + in_off));
  if (len >= size) len = size - 1;
  memcpy(line, inbuf + in_off, len);
  line[len] = 0;
  in_off = (size_t)(nl - inbuf) + 1;
  return 1;
}

/* ---- replay operations ---- */

static void fail(const char *op, const char *path) { printf("E %d %s %s\n", errno, op, path); }

/* Same-value chmod: IN_ATTRIB, and only ctime changes on the host. */
static void same_chmod(int fd, const char *path) {
  struct stat st;
  if (fstat(fd, &st) == 0 && fchmod(fd, st.st_mode & 07777) != 0) fail("chmod", path);
}

static void replay_file(int writable, int burst, long long size, long long mtime, long long ns, const char *path, int checked) {
  if (!checked) {
    fill(0);
    if (!replayable(path)) return;
    drain(NULL);
    if (guest_made(path, size, mtime)) {
      printf("S %s\n", path); /* kept: a later report of the same state is the same echo */
      return;
    }
  }
  int fd = -1;
  if (burst && !checked) {
    /* A burst: the same-mode chmod by path alone (IN_ATTRIB), two guest requests instead of five. */
    struct stat st;
    if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) && fchmodat(AT_FDCWD, path, st.st_mode & 07777, 0) == 0) {
      drain(path);
      return;
    }
  }
  if (writable) {
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
      same_chmod(fd, path);
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

static void replay_dir(int writable, long long mtime, const char *path) {
  fill(0);
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
  if (writable) same_chmod(fd, path);
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

static int is_own(const char *path) {
  for (unsigned i = hash(path) % OWN_SLOTS, k = 0; own_set[i] && k < OWN_SLOTS; i = (i + 1) % OWN_SLOTS, k++)
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
    struct stat st;
    if (it->skip) continue;
    it->done = fstatat(AT_FDCWD, it->path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) && fchmodat(AT_FDCWD, it->path, st.st_mode & 07777, 0) == 0;
  }
}

/* Echo checks first (one thread: they read the helper's inotify), then the chmods in parallel;
   a path the chmod could not serve gets the one-path replay. */
static void run_batch(void) {
  if (!nbatch) return;
  fill(0);
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
      unsigned h = hash(it->path) % OWN_SLOTS;
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
    if (!batch[i].skip && !batch[i].done) replay_file(1, 1, batch[i].size, batch[i].mtime, 0, batch[i].path, 1);
  nbatch = 0;
}

/* A "F b" line goes into the batch (1), anything else is carried out by command() (0). */
static int batch_line(char *line) {
  long long size, mtime, ns;
  int off = 0;
  if (line[0] != 'F' || strncmp(line, "F b ", 4)) return 0;
  if (sscanf(line + 4, "%lld %lld %lld %n", &size, &mtime, &ns, &off) < 3 || !off) return 1;
  unescape(line + 4 + off);
  struct item *it = &batch[nbatch++];
  snprintf(it->path, sizeof it->path, "%s", line + 4 + off);
  it->size = size;
  it->mtime = mtime;
  if (nbatch == BATCH_MAX) run_batch();
  return 1;
}

/* ---- commands ---- */

static void command(char *line) {
  char *rest = line + 2;
  if (!line[0] || line[1] != ' ') return;
  switch (line[0]) {
  case 'P':
    drain(NULL);
    printf("P %s\n", rest);
    return;
  case 'R':
    unescape(rest);
    set_root(&active, rest, 1);
    add_tree(rest, GUEST_MASK, 0);
    return;
  case 'U':
    unescape(rest);
    drop_root(rest);
    set_root(&active, rest, 0);
    set_root(&leaving, rest, 0);
    return;
  case 'F': {
    char mode;
    long long size, mtime, ns;
    int off = 0;
    if (sscanf(rest, "%c %lld %lld %lld %n", &mode, &size, &mtime, &ns, &off) < 4 || !off) return;
    unescape(rest + off);
    replay_file(mode == 'w' || mode == 'b', mode == 'b', size, mtime, ns, rest + off, 0);
    return;
  }
  case 'D': {
    char mode;
    long long mtime;
    int off = 0;
    if (sscanf(rest, "%c %lld %n", &mode, &mtime, &off) < 2 || !off) return;
    unescape(rest + off);
    replay_dir(mode == 'w' || mode == 'b', mtime, rest + off);
    return;
  }
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (ifd < 0) {
    perror("inotify_init1");
    return 1;
  }
  if (argc == 3 && !strcmp(argv[1], "--watch")) {
    watch_mode = 1;
    /* Its output goes out once per read of the queue, not per line: one SSH packet per burst. */
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    add_tree(argv[2], TEST_MASK, 0);
    printf("READY\n");
    fflush(stdout);
    /* Ends when its stdin closes (the test's channel), like the replay mode. */
    struct pollfd pw[2] = {{ifd, POLLIN, 0}, {0, POLLIN, 0}};
    for (;;) {
      if (poll(pw, 2, -1) < 0 && errno != EINTR) return 1;
      if (pw[0].revents & POLLIN) {
        drain(NULL);
        fflush(stdout);
      }
      if (pw[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        char c[256];
        if (read(0, c, sizeof c) <= 0) return 0;
      }
    }
  }
  if (argc != 1) {
    fprintf(stderr, "usage: %s            (commands on stdin, see the source)\n       %s --watch DIR\n", argv[0], argv[0]);
    return 2;
  }
  static char line[2 * PATH_MAX + 64];
  struct pollfd pf[2] = {{0, POLLIN, 0}, {ifd, POLLIN, 0}};
  for (;;) {
    while (!in_eof && next_line(line, sizeof line)) {
      if (batch_line(line)) continue;
      run_batch();
      command(line);
    }
    if (nbatch && !in_eof) {
      run_batch(); /* its read-ahead may have buffered more lines: those come before any wait */
      continue;
    }
    if (in_eof) return 0; /* the agent closed the channel: nothing more to do */
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (pf[1].revents & POLLIN) drain(NULL);
    if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) fill(1);
  }
}
