/* Key-session MACs: see core_auth.h.  Freestanding except for libsodium. */
#include "core_auth.h"

#include <sodium/crypto_generichash.h>
#include <sodium/crypto_shorthash_siphash24.h>
#include <sodium/crypto_verify_16.h>

static void put(uint8_t *dst, uint32_t *off, const void *src, uint32_t n)
{
    const uint8_t *s = src;
    for (uint32_t i = 0; i < n; i++)
        dst[(*off)++] = s[i];
}

uint64_t core_auth_key_id(const uint8_t key[CORE_KEY_BYTES])
{
    static const char label[] = "esem-kid";
    uint8_t h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)label, sizeof label - 1, key,
                       CORE_KEY_BYTES);
    uint64_t id = 0;
    for (int i = 7; i >= 0; i--)
        id = id << 8 | h[i];
    return id ? id : 1; /* 0 means "no key" on the wire */
}

/* BLAKE2b(key; label || session || client nonce || core nonce): the session
 * key and the proof differ only in label, key and length. */
static void derive(const uint8_t *key, const char *label, uint32_t label_len, core_id_t session,
                   const uint8_t nonce[CORE_NONCE_BYTES], uint64_t core_nonce, uint8_t *out,
                   uint32_t out_len)
{
    uint8_t m[16 + 8 + CORE_NONCE_BYTES + 8];
    uint32_t n = 0;
    put(m, &n, label, label_len);
    put(m, &n, &session, 8);
    put(m, &n, nonce, CORE_NONCE_BYTES);
    put(m, &n, &core_nonce, 8);
    crypto_generichash(out, out_len, m, n, key, CORE_KEY_BYTES);
}

void core_auth_session_key(const uint8_t key[CORE_KEY_BYTES], core_id_t session,
                           const uint8_t nonce[CORE_NONCE_BYTES], uint64_t core_nonce,
                           uint8_t ks[CORE_KEY_BYTES])
{
    derive(key, "esem-ks", 7, session, nonce, core_nonce, ks, CORE_KEY_BYTES);
}

void core_auth_proof(const uint8_t ks[CORE_KEY_BYTES], core_id_t session,
                     const uint8_t nonce[CORE_NONCE_BYTES], uint64_t core_nonce,
                     uint8_t mac[CORE_MAC_BYTES])
{
    derive(ks, "esem-proof", 10, session, nonce, core_nonce, mac, CORE_MAC_BYTES);
}

void core_auth_req_mac(const uint8_t ks[CORE_KEY_BYTES], const struct core_req *req,
                       uint8_t mac[CORE_MAC_BYTES])
{
    uint8_t m[1 + CORE_REQ_HDR + CORE_NAME_MAX];
    uint32_t n = 0;
    uint32_t len = req->name_len <= CORE_NAME_MAX ? req->name_len : CORE_NAME_MAX;
    put(m, &n, "Q", 1);
    put(m, &n, req, CORE_REQ_HDR);
    put(m, &n, req->name, len);
    crypto_shorthash_siphashx24(mac, m, n, ks);
}

void core_auth_rep_mac(const uint8_t ks[CORE_KEY_BYTES], const struct core_reply *rep,
                       uint8_t mac[CORE_MAC_BYTES])
{
    uint8_t m[1 + sizeof *rep];
    uint32_t n = 0;
    put(m, &n, "R", 1);
    put(m, &n, rep, sizeof *rep);
    crypto_shorthash_siphashx24(mac, m, n, ks);
}

/* MACed as bytes: no padding may carry stray values */
_Static_assert(sizeof(struct core_reply) == 48, "struct core_reply has padding");

void core_auth_rep_mac_data(const uint8_t ks[CORE_KEY_BYTES], const struct core_reply *rep,
                            const uint8_t *data, uint32_t len, uint8_t mac[CORE_MAC_BYTES])
{
    uint8_t m[1 + sizeof *rep + CORE_SYSV_DATA];
    uint32_t n = 0;
    if (len > CORE_SYSV_DATA)
        len = CORE_SYSV_DATA;
    put(m, &n, "D", 1);
    put(m, &n, rep, sizeof *rep);
    put(m, &n, data, len);
    crypto_shorthash_siphashx24(mac, m, n, ks);
}

int core_auth_equal(const uint8_t a[CORE_MAC_BYTES], const uint8_t b[CORE_MAC_BYTES])
{
    return crypto_verify_16(a, b) == 0;
}
