/*
 * Message authentication for key sessions — shared, byte for byte, by the
 * trusted core (which checks requests and signs replies) and by libesem
 * (which signs requests and checks replies).  One source for both sides, so
 * that the two can never disagree on what a MAC covers.
 *
 * Primitives, from libsodium: keyed BLAKE2b (crypto_generichash) to derive
 * key ids, session keys and the proof; SipHash-2-4 with a 128-bit output
 * (crypto_shorthash_siphashx24, keyed with the first 16 bytes of the
 * session key) for the per-message MACs — a PRF built for short inputs,
 * about 40 ns for a request here against 300 ns for keyed BLAKE2b, and
 * there are four MACs per operation.  Tags are 128 bits, compared in
 * constant time (crypto_verify_16).  Under SGX the core would link
 * libsodium built for the enclave; these functions make no system call
 * (enclave/symbols.allow lists them).
 *
 *   key id      = BLAKE2b-128(key = K,  "esem-kid")[0..8)      (0 never used)
 *   session key = BLAKE2b-256(key = K,  "esem-ks" || session || client nonce
 *                             || core nonce)
 *   proof       = BLAKE2b-128(key = Ks, "esem-proof" || session || nonce || core nonce)
 * The core nonce is unique per session (a 64-bit counter started from the
 * core's random boot nonce), so a replayed hello never yields an old
 * session key, even if the host cycles a session id through all its
 * generations or restarts the core.
 *   request MAC = SipHash-2-4-128(key = Ks[0..16), 'Q' || header of core_req || name)
 *   reply MAC   = SipHash-2-4-128(key = Ks[0..16), 'R' || core_reply)
 * The request header holds the call, slot and sequence number, so a MAC
 * binds a request to its slot and place in that slot's sequence; the reply
 * holds the session, slot and sequence it answers.
 */
#ifndef ESEM_CORE_AUTH_H
#define ESEM_CORE_AUTH_H

#include "esem_core.h"

uint64_t core_auth_key_id(const uint8_t key[CORE_KEY_BYTES]);
void core_auth_session_key(const uint8_t key[CORE_KEY_BYTES], core_id_t session,
                           const uint8_t nonce[CORE_NONCE_BYTES], uint64_t core_nonce,
                           uint8_t ks[CORE_KEY_BYTES]);
void core_auth_proof(const uint8_t ks[CORE_KEY_BYTES], core_id_t session,
                     const uint8_t nonce[CORE_NONCE_BYTES], uint64_t core_nonce,
                     uint8_t mac[CORE_MAC_BYTES]);
/* req->name_len must already be checked (<= CORE_NAME_MAX). */
void core_auth_req_mac(const uint8_t ks[CORE_KEY_BYTES], const struct core_req *req,
                       uint8_t mac[CORE_MAC_BYTES]);
void core_auth_rep_mac(const uint8_t ks[CORE_KEY_BYTES], const struct core_reply *rep,
                       uint8_t mac[CORE_MAC_BYTES]);
/* The reply MAC of a reply that carries data (System V: GETALL values,
 * IPC_STAT...): 'D' || core_reply || data (at most CORE_SYSV_DATA bytes). */
void core_auth_rep_mac_data(const uint8_t ks[CORE_KEY_BYTES], const struct core_reply *rep,
                            const uint8_t *data, uint32_t len, uint8_t mac[CORE_MAC_BYTES]);
/* 1 if equal (constant time) */
int core_auth_equal(const uint8_t a[CORE_MAC_BYTES], const uint8_t b[CORE_MAC_BYTES]);

#endif
