/*
 * The helper's side of "event kinds" mounts (`mount add --watch=kinds`, docs/watch.md): a mount
 * point gets the FUSE layer of layer.c over its transport, so that the host's creates, deletes
 * and renames can be shown to the guest kernel as the real operations (IN_CREATE, IN_DELETE,
 * IN_MOVED_FROM/TO). The transport stays reachable at a bind mount under /run/hotmount/layers.
 *
 * Commands (main.c): "K <root>" puts the layer on, "C <path>", "X <f|d> <path>" and
 * "M <old> <new>" (spaces in the paths escaped as "\ ") hand the host's change to the root's
 * layer; U (or the end of the helper) takes the layer off again.
 */
#include "helper.h"
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#define KINDS_MAX 64
#define KINDS_DIR "/run/hotmount/layers"

struct kinds_layer {
  char *root, *under;
  pid_t pid;
  int to;     /* the layer's control input */
  FILE *from; /* its answers: "READY", then "K <errno> <line>" */
};

static struct kinds_layer kinds_layers[KINDS_MAX];

static struct kinds_layer *kinds_find(const char *path) {
  for (int i = 0; i < KINDS_MAX; i++)
    if (kinds_layers[i].root && under(path, kinds_layers[i].root)) return &kinds_layers[i];
  return NULL;
}

static void kinds_escape(char *out, size_t size, const char *in) {
  size_t o = 0;
  for (; *in && o + 3 < size; in++) {
    if (*in == '\\' || *in == ' ' || *in == '\n') out[o++] = '\\';
    out[o++] = *in == '\n' ? 'n' : *in;
  }
  out[o] = 0;
}

/* Takes the layer off: its input closes, it unmounts itself; then the bind mount goes. */
static void kinds_drop(struct kinds_layer *l) {
  close(l->to);
  fclose(l->from);
  waitpid(l->pid, NULL, 0);
  if (umount2(l->under, MNT_DETACH) != 0) printf("E %d umount %s\n", errno, l->under);
  rmdir(l->under);
  free(l->root);
  free(l->under);
  memset(l, 0, sizeof *l);
}

/* "K <root>": the layer over root. Answers "E <errno> layer <root>" when it cannot be made. */
void kinds_on(const char *root) {
  if (kinds_find(root)) return;
  struct kinds_layer *l = NULL;
  for (int i = 0; i < KINDS_MAX && !l; i++)
    if (!kinds_layers[i].root) l = &kinds_layers[i];
  char under_path[PATH_MAX];
  snprintf(under_path, sizeof under_path, KINDS_DIR "/%08x", helper_hash(root));
  int in[2], out[2];
  if (!l || (mkdir("/run/hotmount", 0755) && errno != EEXIST) || (mkdir(KINDS_DIR, 0700) && errno != EEXIST) || (mkdir(under_path, 0700) && errno != EEXIST) ||
      mount(root, under_path, NULL, MS_BIND, NULL) != 0) {
    printf("E %d layer %s\n", l ? errno : ENFILE, root);
    return;
  }
  /* Under systemd every mount is shared, so the bind is a peer of the mount at root and the layer
     mounted there next would propagate onto it: the layer would then serve itself and hang. A
     private bind leaves the peer group. */
  if (mount(NULL, under_path, NULL, MS_PRIVATE, NULL) != 0) {
    printf("E %d layer %s\n", errno, root);
    umount2(under_path, MNT_DETACH);
    return;
  }
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
    printf("E %d layer %s\n", errno, root);
    umount2(under_path, MNT_DETACH);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    execl("/proc/self/exe", "watch-helper", "--layer", under_path, root, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  *l = (struct kinds_layer){strdup(root), strdup(under_path), pid, in[1], fdopen(out[0], "r")};
  char line[256];
  if (pid < 0 || !l->from || !fgets(line, sizeof line, l->from) || strcmp(line, "READY\n")) {
    printf("E %d layer %s\n", pid < 0 ? errno : EIO, root);
    kinds_drop(l);
    return;
  }
  /* The guest's own changes are now seen on the layer, where the kernel raises them as the guest
     makes them; on the transport below they also come from the layer's asynchronous closes. */
  drop_root(root);
  add_tree(root, GUEST_MASK, 0);
}

void kinds_off(const char *root) {
  for (int i = 0; i < KINDS_MAX; i++)
    if (kinds_layers[i].root && under(kinds_layers[i].root, root)) kinds_drop(&kinds_layers[i]);
}

/* One host change for the layer of the root `path` is under; reports a failure as "E". */
static void kinds_send(struct kinds_layer *l, const char *cmd, const char *path) {
  char answer[2 * PATH_MAX + 32];
  dprintf(l->to, "%s\n", cmd);
  if (!fgets(answer, sizeof answer, l->from)) {
    printf("E %d layer %s\n", EPIPE, l->root);
    kinds_drop(l);
    return;
  }
  int err = atoi(answer + 2);
  if (err && err != ENOENT && err != EEXIST) printf("E %d kinds %s\n", err, path);
  drain_layer_op(); /* the events of the layer's own operation are not guest-made changes */
}

/* "C <path>", "X <f|d> <path>", "M <old> <new>": rest is the line after "<op> ". 0: malformed. */
int kinds_command(char op, char *rest) {
  char a[PATH_MAX], b[PATH_MAX], ea[2 * PATH_MAX], eb[2 * PATH_MAX], cmd[4 * PATH_MAX + 16];
  char kind = 0;
  if (op == 'X') {
    if ((rest[0] != 'f' && rest[0] != 'd') || rest[1] != ' ') return 0;
    kind = rest[0];
    rest += 2;
  }
  char *second = op == 'M' ? split_field(rest) : NULL;
  if (op == 'M' && !second) return 0;
  unescape(rest);
  snprintf(a, sizeof a, "%s", rest);
  if (second) {
    unescape(second);
    snprintf(b, sizeof b, "%s", second);
  }
  input_poll();
  if (!replayable(a)) return 1;
  struct kinds_layer *l = kinds_find(a);
  if (!l || (second && kinds_find(b) != l)) return 1; /* not a kinds mount: D and F lines cover it */
  size_t n = strlen(l->root);
  kinds_escape(ea, sizeof ea, a + n);
  if (op == 'C')
    snprintf(cmd, sizeof cmd, "C %s", ea);
  else if (op == 'X')
    snprintf(cmd, sizeof cmd, "X %c %s", kind, ea);
  else {
    kinds_escape(eb, sizeof eb, b + n);
    snprintf(cmd, sizeof cmd, "M %s %s", ea, eb);
  }
  drain(NULL);
  if (guest_recent(a) || (second && guest_recent(b))) {
    printf("S %s\n", a); /* a guest process made this change: its watchers saw it */
    return 1;
  }
  kinds_send(l, cmd, second ? b : a);
  return 1;
}
