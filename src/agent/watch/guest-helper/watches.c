/*
 * The guest helper's view of the mounts: inotify watches on every folder under a tracked mount
 * point, and what the guest changed there itself (path -> size and mtime when its event was read),
 * which is how a host report of a guest-made change is known as an echo and not replayed.
 */
#include "helper.h"

#define MAX_WATCHES 65536
#define SEEN_SLOTS 8192
#define ECHO_SLACK_S 2
#define ECHO_RECENT_S 2.0
#define ECHO_KINDS_S 10.0

static int ifd = -1;
static char *wd_path[MAX_WATCHES]; /* watch descriptor -> folder path (wds are small ints) */
static int watch_mode = 0;         /* --watch: print every event (the test watcher) */
static int drain_all_own;          /* set by drain_layer_op: every queued event is the helper's */

/* ---- watches ---- */

/* The helper's inotify instance (non-blocking): its fd, for main's poll, or -1. */
int watches_open(void) {
  ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  return ifd;
}

/* --watch: drain prints every event instead of remembering guest-made changes. */
void watches_print_events(void) { watch_mode = 1; }

/* Watches dir and the folders below it (depth > 64: dir alone). */
void add_tree(const char *dir, uint32_t mask, int depth) {
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
int under(const char *path, const char *root) {
  size_t n = strlen(root);
  return !strncmp(path, root, n) && (path[n] == 0 || path[n] == '/');
}

void drop_root(const char *root) {
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

/* Monotonic seconds (the echo rules' clock; the layer's record uses it too). */
double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
static struct seen seen[SEEN_SLOTS];

unsigned helper_hash(const char *s) {
  unsigned h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static void remember(const char *path) {
  struct statx st;
  struct seen *s = &seen[helper_hash(path) % SEEN_SLOTS];
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

/* Reads the events of a layer operation (kinds.c): a rename raises two names, all of them its own. */
void drain_layer_op(void) {
  drain_all_own = 1;
  drain(NULL);
  drain_all_own = 0;
}

/* The guest itself created, deleted or renamed path less than ECHO_KINDS_S ago: a host report
   of a create, delete or rename there is its echo. Longer than ECHO_RECENT_S: a write-behind
   transport (sshfs) under load reports a guest's create seconds later, and a second IN_CREATE
   would tell watchers of a file that is not new. */
int guest_recent(const char *path) {
  struct seen *s = &seen[helper_hash(path) % SEEN_SLOTS];
  return s->path && !strcmp(s->path, path) && now_s() - s->at <= ECHO_KINDS_S;
}

/* size -2 matches any folder: a folder's size is the transport's business. */
int guest_made(const char *path, long long size, long long mtime) {
  struct seen *s = &seen[helper_hash(path) % SEEN_SLOTS];
  if (!s->path || strcmp(s->path, path)) return 0;
  /* The guest changed it moments ago: the host is reporting that write, or a step of it (sshfs
     and virtiofs write behind, so the host passes through states the guest never stat-ed). */
  if (now_s() - s->at <= ECHO_RECENT_S) return 1;
  /* Within ECHO_SLACK_S: a write-back cache (virtiofs) dates the host file when it flushes,
     which may be a second or two after the guest's own view of the write. */
  return llabs(s->mtime - mtime) <= ECHO_SLACK_S && (s->size == size || (s->size == -2 && size == -2));
}

static const char *NAMES[] = {"ACCESS",     "MODIFY",   "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN",
                              "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE",      "DELETE_SELF",   "MOVE_SELF"};

/*
 * Reads what is queued. `own` (may be NULL) is the path of the operation the helper just made:
 * events for it (and for a burst batch's paths, is_own) are the helper's own and are not
 * remembered. Returns when nothing is queued.
 */

void drain(const char *own) {
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
      if (drain_all_own || (own && !strcmp(path, own)) || is_own(path)) continue;
      /* Remembering stats the path, a guest request each: a mount being removed must not wait
         behind (or be held busy by) thousands of them, so its U is looked for as they go. */
      if (++count % 64 == 0) input_poll();
      if (input_ended()) return;
      if (!replayable(path)) continue;
      remember(path);
      /* A guest-made create, delete or rename also changed its folder. */
      if (ev->len && (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO))) remember(wd_path[ev->wd]);
    }
  }
}
