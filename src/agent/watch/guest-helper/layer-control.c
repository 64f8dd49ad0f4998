/*
 * The FUSE layer's control thread and start (layer.c says what the layer is for): it reads the
 * host's changes on stdin and makes the matching call on MOUNTPOINT, which the request side
 * recognises by this thread's id and answers without touching BACKING.
 */
#include "layer.h"
#include <sys/mount.h>

const char *layer_backing;
char layer_mp[PATH_MAX];
int layer_fd = -1;
volatile pid_t layer_ctl_tid;
char layer_absent[PATH_MAX], layer_present[PATH_MAX];
volatile int layer_present_dir;

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
  if (made && (!layer_join(b, layer_backing, made) || lstat(b, &st) != 0)) return made[0] ? errno : EINVAL;
  /* A guest process made this very change through the layer moments ago: its watchers saw it
     then (layer-recent.c). EEXIST and ENOENT are "already so" to the helper. */
  if (op == 'C' && layer_recent_guest(from, 1, st.st_ino)) return EEXIST;
  if (op == 'X' && layer_recent_guest(from, 0, 0)) return ENOENT;
  if (op == 'M' && layer_recent_guest(from, 0, 0) && layer_recent_guest(to, 1, st.st_ino)) return EEXIST;
  if (!layer_join(a, layer_mp, from) || (op == 'M' && !layer_join(b, layer_mp, to))) return ENAMETOOLONG;
  snprintf(layer_present, sizeof layer_present, "%s", op == 'C' ? "" : from);
  snprintf(layer_absent, sizeof layer_absent, "%s", op == 'C' ? from : op == 'M' ? to : "");
  layer_present_dir = op == 'X' ? kind == 'd' : S_ISDIR(st.st_mode);
  int rc;
  if (op == 'X')
    rc = kind == 'd' ? rmdir(a) : unlink(a);
  else if (op == 'M')
    rc = rename(a, b);
  else if (S_ISDIR(st.st_mode))
    rc = mkdir(a, st.st_mode & 07777);
  else if (S_ISLNK(st.st_mode)) {
    ssize_t n = readlink(b, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    rc = n < 0 ? -1 : symlink(target, a);
  } else
    rc = mknod(a, S_IFREG | (st.st_mode & 07777), 0);
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
  layer_nodes_init(&root);
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
