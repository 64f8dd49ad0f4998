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
 *   K <root>                       "event kinds": the FUSE layer of layer.c over the mount (kinds.c)
 *   C <path> | X <f|d> <path> | M <old> <new>   on a K mount: the host created, deleted, renamed
 *                                  path (M's paths escape a space as "\\ "); the guest kernel is
 *                                  shown the real operation (IN_CREATE, IN_DELETE, IN_MOVED_*)
 * w: the mount is writable (open for write, fallocate, same-value chmod); b: writable, in a burst
 * (the same-value chmod alone; consecutive b lines are checked for echoes together and their
 * chmods run on several threads); r: read-only (reads only).
 * Output (stdout): "T <us>" then "P <token>" (T: microseconds from the first command read after
 * the previous P to this answer: the helper's own share of a batch's time), "S <path>" (skipped: the guest made that change itself),
 * "E <errno> <op> <path>" (an operation failed; the next command goes on; "E 22 parse <line>" for a
 * line it cannot read).
 *
 * `--layer BACKING MOUNTPOINT`: the FUSE layer itself (layer.c; kinds.c starts it).
 * `--probe`: exits 0 (the agent checks that the folder it was copied to lets it run).
 * `--watch DIR`: a test watcher; prints "<EVENTS> <path>" per inotify event under DIR, recursively
 * ("READY" once the watches are set), e.g. "ATTRIB,CLOSE_WRITE /mnt/a/f". Busybox's inotifyd is
 * not recursive and the demo guest's may lack it.
 *
 * Built static (no libc in the guest is assumed) for x86_64 and aarch64, from the .c files of
 * this folder (helper.h says which does what).
 */
#include "helper.h"

/* Monotonic microseconds when the first command of the batch being answered was read (0: none yet). */
static long long batch_since = 0;

static long long mono_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static enum replay_how replay_how(char mode) { return mode == 'b' ? REPLAY_BURST : mode == 'w' ? REPLAY_WRITE : REPLAY_READ; }

/* A line the helper cannot read is reported, never dropped silently. */
static void malformed(const char *line) { printf("E %d parse %s\n", EINVAL, line); }

static void command(char *line) {
  char *rest = line + 2;
  if (!line[0]) return;
  if (line[1] != ' ') return malformed(line);
  switch (line[0]) {
  case 'P':
    drain(NULL);
    printf("T %lld\nP %s\n", batch_since ? mono_us() - batch_since : 0, rest);
    batch_since = 0;
    return;
  case 'R':
    unescape(rest);
    track_root(rest);
    add_tree(rest, GUEST_MASK, 0);
    return;
  case 'U':
    unescape(rest);
    kinds_off(rest);
    drop_root(rest);
    untrack_root(rest);
    return;
  case 'K':
    unescape(rest);
    kinds_on(rest);
    return;
  case 'C':
  case 'X':
  case 'M':
    if (!kinds_command(line[0], rest)) malformed(line);
    return;
  case 'F': {
    char mode;
    long long size, mtime, ns;
    int off = 0;
    if (sscanf(rest, "%c %lld %lld %lld %n", &mode, &size, &mtime, &ns, &off) < 4 || !off) return malformed(line);
    unescape(rest + off);
    replay_file(replay_how(mode), size, mtime, ns, rest + off);
    return;
  }
  case 'D': {
    char mode;
    long long mtime;
    int off = 0;
    if (sscanf(rest, "%c %lld %n", &mode, &mtime, &off) < 2 || !off) return malformed(line);
    unescape(rest + off);
    replay_dir(replay_how(mode), mtime, rest + off);
    return;
  }
  }
  malformed(line);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int ifd = watches_open();
  if (ifd < 0) {
    perror("inotify_init1");
    return 1;
  }
  if (argc == 2 && !strcmp(argv[1], "--probe")) return 0; /* the agent checks it can run here */
  if (argc == 4 && !strcmp(argv[1], "--layer")) return layer_main(argv[2], argv[3]);
  if (argc == 3 && !strcmp(argv[1], "--watch")) {
    watches_print_events();
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
    while (!input_ended() && next_line(line, sizeof line)) {
      if (!batch_since) batch_since = mono_us();
      if (batch_line(line)) continue;
      run_batch();
      command(line);
    }
    if (batch_pending() && !input_ended()) {
      run_batch(); /* its read-ahead may have buffered more lines: those come before any wait */
      continue;
    }
    if (input_ended()) { /* the agent closed the channel: nothing more to do */
      kinds_off("");
      return 0;
    }
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (pf[1].revents & POLLIN) drain(NULL);
    if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) input_wait();
  }
}
