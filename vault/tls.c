/*
 * The vault's wire: TLS (OpenSSL) with a self-signed certificate the server
 * makes in DIR at first start (EC P-256), whose SHA-256 fingerprint clients
 * pin (they trust no CA: the fingerprint is the identity); and messages of
 * a 16-byte header plus a body.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "vault.h"

static void hex(const uint8_t *d, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int fp_of(X509 *c, char fp_hex[65])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!X509_digest(c, EVP_sha256(), md, &n) || n != 32)
        return -1;
    hex(md, n, fp_hex);
    return 0;
}

/* Make DIR/key.pem (0600) and DIR/cert.pem.  0 or -1. */
static int make_cert(const char *kpath, const char *cpath)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *c = X509_new();
    int ok = k && c;
    if (ok) {
        uint8_t serial[16];
        randombytes_buf(serial, sizeof serial);
        serial[0] &= 0x7f;
        BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
        ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) && X509_set_version(c, 2) &&
             X509_gmtime_adj(X509_getm_notBefore(c), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(c), 10L * 365 * 24 * 3600) &&
             X509_set_pubkey(c, k);
        BN_free(bn);
        X509_NAME *nm = X509_get_subject_name(c);
        ok = ok &&
             X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
                                        (const unsigned char *)"esem-vault", -1, -1, 0) &&
             X509_set_issuer_name(c, nm) && X509_sign(c, k, EVP_sha256());
    }
    if (ok) {
        int fd = open(kpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        FILE *kf = fd >= 0 ? fdopen(fd, "w") : NULL;
        FILE *cf = fopen(cpath, "we");
        ok = kf && cf && PEM_write_PrivateKey(kf, k, NULL, NULL, 0, NULL, NULL) &&
             PEM_write_X509(cf, c);
        if (kf)
            ok &= fclose(kf) == 0;
        else if (fd >= 0)
            close(fd);
        if (cf)
            ok &= fclose(cf) == 0;
    }
    X509_free(c);
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

int cert_fingerprint(const char *dir, char fp_hex[65])
{
    char cpath[VAULT_PATH];
    snprintf(cpath, sizeof cpath, "%s/cert.pem", dir);
    FILE *f = fopen(cpath, "re");
    if (!f)
        return -1;
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    int r = c ? fp_of(c, fp_hex) : -1;
    X509_free(c);
    return r;
}

SSL_CTX *tls_server_ctx(const char *dir, char fp_hex[65])
{
    char kpath[VAULT_PATH], cpath[VAULT_PATH];
    snprintf(kpath, sizeof kpath, "%s/key.pem", dir);
    snprintf(cpath, sizeof cpath, "%s/cert.pem", dir);
    if (access(kpath, F_OK) < 0 && make_cert(kpath, cpath) < 0) {
        fprintf(stderr, "esem-vault: cannot make a certificate in %s\n", dir);
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        SSL_CTX_use_certificate_file(ctx, cpath, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, kpath, SSL_FILETYPE_PEM) != 1 ||
        cert_fingerprint(dir, fp_hex) < 0) {
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *tls_client_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        /* no CA: the certificate is checked by its pinned fingerprint */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
}

int tls_pin_ok(SSL *ssl, const char *fp_hex)
{
    X509 *c = SSL_get1_peer_certificate(ssl);
    char got[65];
    int ok = c && fp_of(c, got) == 0 && strlen(fp_hex) == 64 &&
             sodium_memcmp(got, fp_hex, 64) == 0;
    X509_free(c);
    return ok;
}

/* ---- messages ---- */

static int ssl_write_all(SSL *ssl, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        int w = SSL_write(ssl, p, n > (1u << 30) ? 1 << 30 : (int)n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int ssl_read_all(SSL *ssl, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        int r = SSL_read(ssl, p, n > (1u << 30) ? 1 << 30 : (int)n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int msg_send(SSL *ssl, uint32_t type, int32_t status, const void *a, size_t alen,
             const void *b, size_t blen)
{
    struct vhdr h = {.type = type, .status = status, .len = alen + blen};
    return ssl_write_all(ssl, &h, sizeof h) || (alen && ssl_write_all(ssl, a, alen)) ||
                   (blen && ssl_write_all(ssl, b, blen))
               ? -1
               : 0;
}

int msg_recv(SSL *ssl, struct vhdr *h, uint8_t **buf, size_t max)
{
    *buf = NULL;
    if (ssl_read_all(ssl, h, sizeof *h) < 0 || h->len > max)
        return -1;
    *buf = malloc(h->len + 1);
    if (!*buf)
        return -1;
    if (h->len && ssl_read_all(ssl, *buf, h->len) < 0) {
        free(*buf);
        *buf = NULL;
        return -1; /* a truncated message: the peer went away mid-transfer */
    }
    (*buf)[h->len] = 0;
    return 0;
}
