/*
 * The FUSE layer's node table: each node id the kernel holds stands for a BACKING inode (found
 * again by inode number, so a lookup of the same file gives the same id) and remembers its
 * parent and name, from which its BACKING path is made (a rename only changes those two).
 */
#include "layer.h"

struct layer_node {
  uint64_t parent, nlookup;
  ino_t ino;
  dev_t dev;
  char *name;
  uint32_t next; /* hash chain: index+1, 0 ends */
  int used;
};

static struct layer_node *layer_nodes;
static uint64_t layer_cap;
static uint32_t layer_buckets[1 << 16];

/* The root node (FUSE_ROOT_ID) is BACKING itself. */
void layer_nodes_init(const struct stat *root) {
  layer_cap = 1024;
  layer_nodes = calloc(layer_cap, sizeof *layer_nodes);
  layer_nodes[FUSE_ROOT_ID] = (struct layer_node){0, 1, root->st_ino, root->st_dev, strdup(""), 0, 1};
}

uint32_t layer_hash(ino_t ino) { return (uint32_t)((ino * 0x9E3779B97F4A7C15ull) >> 48); }

char *layer_rel(uint64_t id, char *out, size_t size) {
  const char *parts[256];
  int n = 0;
  for (uint64_t i = id; i != FUSE_ROOT_ID && i < layer_cap && layer_nodes[i].used && n < 256; i = layer_nodes[i].parent) parts[n++] = layer_nodes[i].name;
  size_t len = 0;
  out[0] = 0;
  while (n-- > 0) len += (size_t)snprintf(out + len, len < size ? size - len : 0, "/%s", parts[n]);
  return len < size ? out : NULL;
}

char *layer_path(uint64_t id, const char *name, char *out, size_t size) {
  char rel[PATH_MAX];
  if (!layer_rel(id, rel, sizeof rel)) return NULL;
  int n = snprintf(out, size, "%s%s%s%s", layer_backing, rel, name ? "/" : "", name ? name : "");
  return n > 0 && (size_t)n < size ? out : NULL;
}

uint64_t layer_node(uint64_t parent, const char *name, const struct stat *st) {
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

void layer_forget(uint64_t id, uint64_t count) {
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

/* The node the kernel already holds for parent/name (one lookup more, and st gets its inode
   number), or 0: a watcher's watch is on that node's inode, so the delete must be of it. */
uint64_t layer_known(uint64_t parent, const char *name, struct stat *st) {
  for (uint64_t i = 2; i < layer_cap; i++) {
    struct layer_node *n = &layer_nodes[i];
    if (n->used && n->parent == parent && !strcmp(n->name, name)) {
      n->nlookup++;
      st->st_ino = n->ino;
      return i;
    }
  }
  return 0;
}

/* A rename: the node the kernel holds for olddir/from now stands for newdir/to. By name, not by
   inode number: sshfs gives a renamed file a new one. */
void layer_move(uint64_t olddir, const char *from, uint64_t newdir, const char *to) {
  for (uint64_t i = 2; i < layer_cap; i++) {
    struct layer_node *n = &layer_nodes[i];
    if (n->used && n->parent == olddir && !strcmp(n->name, from)) {
      free(n->name);
      n->name = strdup(to);
      n->parent = newdir;
    }
  }
}

/* A stand-in for a name BACKING no longer has (the control thread's delete or rename of it). */
struct stat layer_ghost_stat(uint64_t parent, const char *name, mode_t mode) {
  return (struct stat){.st_ino = ((uint64_t)1 << 62) + parent * 131 + layer_hash((ino_t)name[0]), .st_nlink = 1, .st_mode = mode};
}
