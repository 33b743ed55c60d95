/*
 * esem-vault: the paper's File Vault — a small TLS file server whose file
 * tree (the "protected part", the paper's File Vault enclave) is ordered by
 * two POSIX semaphores: a counting one that admits at most N workers into
 * the protected part (the enclave's N TCSs) and a mutex that guards every
 * change of the tree.  It uses only the POSIX API: on glibc it is the
 * legacy vault; under `esem run` (with esemd --policy=strict) it is the
 * hardened one, with no code change.  See docs/VAULT.md.
 */
#ifndef ESEM_VAULT_H
#define ESEM_VAULT_H

#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>
#include <sodium.h>

#define VAULT_MAX_NODES 4096u
#define VAULT_NAME 52u       /* bytes of a name, NUL included */
#define VAULT_PATH 512u
#define VAULT_MAX_FILE (16u << 20) /* bytes of one file */
#define VAULT_MAX_SLOTS 64u
#define VAULT_USER 32u

/* ---- the protected part: the tree, in DIR/tree.img, mapped by every worker ---- */

enum { NODE_FREE = 0, NODE_DIR = 1, NODE_FILE = 2 };
#define VAULT_ROOT 0u /* node 0: the root directory; users' homes below it */

struct vnode {
    uint8_t type; /* NODE_* */
    uint8_t pad_[3];
    uint32_t parent;
    uint64_t blob; /* files: DIR/blobs/<blob> */
    uint64_t size; /* files: bytes of plaintext */
    char name[VAULT_NAME];
    uint32_t owner; /* user index (users file line) + 1; 0: root */
};

struct vslot {         /* one place inside the protected part (a TCS) */
    int32_t pid;       /* the worker inside; 0: free */
    uint32_t pad_;
};

struct vtree {
    uint32_t magic, version;
    uint64_t files, dirs, bytes; /* counters, kept with every change */
    uint64_t next_blob;
    uint32_t nslots, pad_;
    struct vslot slot[VAULT_MAX_SLOTS];
    struct vnode node[VAULT_MAX_NODES];
};
#define VAULT_MAGIC 0x56544c54u /* "VTLT" */

/* The server's two semaphores, by name (documented: docs/VAULT.md). */
struct vsems {
    sem_t *admit; /* N permits: workers inside the protected part */
    sem_t *tree;  /* 1: a change of the tree */
    char admit_name[64], tree_name[64];
};

/* tree.c */
struct vtree *tree_map(const char *dir, int create, uint32_t nslots);
void tree_unmap(struct vtree *t);
void sem_names(int port, struct vsems *s);
int sems_open(int port, uint32_t nslots, int create, struct vsems *s);
/* Enter / leave the protected part (admission permit + a free slot).
 * enter: 0, or -EBUSY if every slot is taken (more workers got in than
 * there are slots: the admission semaphore lied). */
int vault_enter(struct vtree *t, struct vsems *s, int *slot);
void vault_leave(struct vtree *t, struct vsems *s, int slot);
/* Tree operations (paths are a user's, below its home).  0 or -errno. */
int tree_home(struct vtree *t, struct vsems *s, uint32_t owner, const char *user,
              uint32_t *home);
int tree_lookup(struct vtree *t, uint32_t home, const char *path, uint32_t *node);
int tree_put(struct vtree *t, struct vsems *s, uint32_t home, uint32_t owner, const char *path,
             uint64_t blob, uint64_t size, uint64_t *old_blob);
int tree_mkdir(struct vtree *t, struct vsems *s, uint32_t home, uint32_t owner,
               const char *path);
int tree_rm(struct vtree *t, struct vsems *s, uint32_t home, const char *path,
            uint64_t *old_blob);
uint64_t tree_new_blob(struct vtree *t, struct vsems *s);

/* crypto.c: keys and files at rest */
struct vuser {
    char name[VAULT_USER];
    char hash[crypto_pwhash_STRBYTES];
    uint8_t key[crypto_secretstream_xchacha20poly1305_KEYBYTES]; /* unwrapped */
    uint32_t index; /* line number + 1 */
};
int master_load(const char *dir, int create, uint8_t key[32]);
int users_add(const char *dir, const char *name, const char *password);
int users_find(const char *dir, const uint8_t master[32], const char *name, struct vuser *u);
int users_by_index(const char *dir, const uint8_t master[32], uint32_t index, struct vuser *u);
int blob_write(const char *dir, uint64_t blob, const uint8_t key[32], const uint8_t *data,
               size_t len);
int blob_read(const char *dir, uint64_t blob, const uint8_t key[32], uint8_t **data,
              size_t *len);
void blob_remove(const char *dir, uint64_t blob);

/* tls.c: the server's certificate (made at first start), pinned by clients */
SSL_CTX *tls_server_ctx(const char *dir, char fp_hex[65]);
SSL_CTX *tls_client_ctx(void);
int tls_pin_ok(SSL *ssl, const char *fp_hex);
int cert_fingerprint(const char *dir, char fp_hex[65]);

/* net.c: one message = a 16-byte header, then len bytes */
enum vmsg { VM_AUTH = 1, VM_PUT, VM_GET, VM_LS, VM_RM, VM_MKDIR, VM_OK = 100, VM_ERR };
struct vhdr {
    uint32_t type;
    int32_t status; /* replies: 0 or an errno */
    uint64_t len;
};
int msg_send(SSL *ssl, uint32_t type, int32_t status, const void *a, size_t alen,
             const void *b, size_t blen);
/* Receives a header and up to max bytes into *buf (malloc'd); -1 on EOF/error. */
int msg_recv(SSL *ssl, struct vhdr *h, uint8_t **buf, size_t max);

/* server.c, client.c, fsck.c */
int vault_serve(int argc, char **argv);
int vault_client(const char *cmd, int argc, char **argv);
int vault_bench(int argc, char **argv);
int vault_fsck(int argc, char **argv);

#endif
