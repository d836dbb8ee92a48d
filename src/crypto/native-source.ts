/**
 * C source of the optional ESP AEAD accelerator (see openssl-aead.ts). It is compiled on
 * first use with the system C compiler against libcrypto.so.3 and loaded through koffi.
 * It exists because every FFI call costs about 0.4-1 us on this class of machine: one call
 * that seals or opens a whole batch of packets with an EVP_CIPHER_CTX that keeps its key
 * schedule amortises that cost; libcrypto does all cryptography.
 *
 * Job descriptor: 8 int32 per packet, byte offsets into one shared arena:
 *   [0] nonce offset (12 bytes)  [1] AAD offset  [2] AAD length  [3] input offset
 *   [4] input length (without the ICV)  [5] output offset  [6] ICV length  [7] result (1 ok, 0 fail)
 * Seal writes ciphertext || ICV at the output offset. Open reads the ICV right after the
 * input and writes the plaintext; result 0 means the ICV did not verify.
 *
 * tanuki_cipher_batch uses the same descriptor for unpadded CBC/CTR (offset [0] is a 16-byte
 * IV / counter block), tanuki_hmac_batch uses [3] [4] [5] and writes the full HMAC.
 *
 * tanuki_esp_aead_seal / tanuki_esp_aead_open build and take apart whole ESP packets (RFC 4303
 * §2, AEAD per RFC 4106 / RFC 7634: IV = the 64-bit sequence number, nonce = salt || IV, AAD =
 * SPI || SN or SPI || ESN-high || SN) in place in the arena, so that a packet is copied once in
 * and once out. Job descriptor, 8 int32 per packet:
 *   seal: [0] ESP header offset [1] payload length [2] pad length [3] next header
 *         [4] sequence number high [5] sequence number low [6] unused [7] result
 *   open: [0] ESP header offset [1] ESP length (SPI..ICV) [4] sequence number high [7] result
 * The padding written is RFC 4303 §2.4's default 1, 2, 3, ...
 */
export const ESP_AEAD_C_SOURCE = `
#include <stddef.h>
#include <stdint.h>
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
int EVP_CipherInit_ex(EVP_CIPHER_CTX *ctx, const void *type, void *impl,
                      const unsigned char *key, const unsigned char *iv, int enc);
int EVP_CipherUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl,
                     const unsigned char *in, int inl);
int EVP_CipherFinal_ex(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl);
int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *ctx, int type, int arg, void *ptr);

#define CTRL_AEAD_GET_TAG 0x10
#define CTRL_AEAD_SET_TAG 0x11

int tanuki_aead_batch(intptr_t ctx_addr, intptr_t arena_addr, intptr_t jobs_addr, int n, int enc)
{
    EVP_CIPHER_CTX *ctx = (EVP_CIPHER_CTX *)ctx_addr;
    unsigned char *arena = (unsigned char *)arena_addr;
    int32_t *job = (int32_t *)jobs_addr;
    int ok_count = 0;
    for (int i = 0; i < n; i++, job += 8) {
        unsigned char *in = arena + job[3], *out = arena + job[5];
        int in_len = job[4], tag_len = job[6], len = 0, ok = 1;
        job[7] = 0;
        if (EVP_CipherInit_ex(ctx, 0, 0, 0, arena + job[0], enc) != 1) continue;
        if (!enc && EVP_CIPHER_CTX_ctrl(ctx, CTRL_AEAD_SET_TAG, tag_len, in + in_len) != 1) continue;
        if (job[2] > 0 && EVP_CipherUpdate(ctx, 0, &len, arena + job[1], job[2]) != 1) continue;
        if (in_len > 0 && EVP_CipherUpdate(ctx, out, &len, in, in_len) != 1) continue;
        ok = EVP_CipherFinal_ex(ctx, out + in_len, &len) == 1;
        if (ok && enc) ok = EVP_CIPHER_CTX_ctrl(ctx, CTRL_AEAD_GET_TAG, tag_len, out + in_len) == 1;
        job[7] = ok;
        ok_count += ok;
    }
    return ok_count;
}

int tanuki_cipher_batch(intptr_t ctx_addr, intptr_t arena_addr, intptr_t jobs_addr, int n, int enc)
{
    EVP_CIPHER_CTX *ctx = (EVP_CIPHER_CTX *)ctx_addr;
    unsigned char *arena = (unsigned char *)arena_addr;
    int32_t *job = (int32_t *)jobs_addr;
    int ok_count = 0;
    for (int i = 0; i < n; i++, job += 8) {
        int len = 0, tail = 0;
        job[7] = 0;
        if (EVP_CipherInit_ex(ctx, 0, 0, 0, arena + job[0], enc) != 1) continue;
        if (EVP_CipherUpdate(ctx, arena + job[5], &len, arena + job[3], job[4]) != 1) continue;
        if (EVP_CipherFinal_ex(ctx, arena + job[5] + len, &tail) != 1 || len + tail != job[4]) continue;
        job[7] = 1;
        ok_count++;
    }
    return ok_count;
}

typedef struct hmac_ctx_st HMAC_CTX;
int HMAC_Init_ex(HMAC_CTX *ctx, const void *key, int len, const void *md, void *impl);
int HMAC_Update(HMAC_CTX *ctx, const unsigned char *data, size_t len);
int HMAC_Final(HMAC_CTX *ctx, unsigned char *md, unsigned int *len);

int tanuki_hmac_batch(intptr_t ctx_addr, intptr_t arena_addr, intptr_t jobs_addr, int n)
{
    HMAC_CTX *ctx = (HMAC_CTX *)ctx_addr;
    unsigned char *arena = (unsigned char *)arena_addr;
    int32_t *job = (int32_t *)jobs_addr;
    int ok_count = 0;
    for (int i = 0; i < n; i++, job += 8) {
        unsigned int len = 0;
        job[7] = 0;
        /* key NULL, md NULL: restart with the key and digest set when the context was made */
        if (HMAC_Init_ex(ctx, 0, 0, 0, 0) != 1) continue;
        if (HMAC_Update(ctx, arena + job[3], (size_t)job[4]) != 1) continue;
        if (HMAC_Final(ctx, arena + job[5], &len) != 1) continue;
        job[7] = (int32_t)len;
        ok_count++;
    }
    return ok_count;
}
static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

int tanuki_esp_aead_seal(intptr_t ctx_addr, intptr_t arena_addr, intptr_t jobs_addr, int n,
                         uint32_t salt, uint32_t spi, int esn, int tag_len)
{
    EVP_CIPHER_CTX *ctx = (EVP_CIPHER_CTX *)ctx_addr;
    unsigned char *arena = (unsigned char *)arena_addr;
    int32_t *job = (int32_t *)jobs_addr;
    int ok_count = 0;
    for (int i = 0; i < n; i++, job += 8) {
        unsigned char *p = arena + job[0], *pt = p + 16, nonce[12], aad[12];
        int len = job[1], pad = job[2], outl = 0, ok;
        uint32_t hi = (uint32_t)job[4], lo = (uint32_t)job[5];
        job[7] = 0;
        put32(p, spi); put32(p + 4, lo); put32(p + 8, hi); put32(p + 12, lo);
        put32(nonce, salt); put32(nonce + 4, hi); put32(nonce + 8, lo);
        put32(aad, spi);
        if (esn) { put32(aad + 4, hi); put32(aad + 8, lo); } else put32(aad + 4, lo);
        for (int k = 0; k < pad; k++) pt[len + k] = (unsigned char)(k + 1);
        pt[len + pad] = (unsigned char)pad;
        pt[len + pad + 1] = (unsigned char)job[3];
        len += pad + 2;
        if (EVP_CipherInit_ex(ctx, 0, 0, 0, nonce, 1) != 1) continue;
        if (EVP_CipherUpdate(ctx, 0, &outl, aad, esn ? 12 : 8) != 1) continue;
        if (EVP_CipherUpdate(ctx, pt, &outl, pt, len) != 1) continue;
        ok = EVP_CipherFinal_ex(ctx, pt + len, &outl) == 1;
        if (ok) ok = EVP_CIPHER_CTX_ctrl(ctx, CTRL_AEAD_GET_TAG, tag_len, pt + len) == 1;
        job[7] = ok;
        ok_count += ok;
    }
    return ok_count;
}

int tanuki_esp_aead_open(intptr_t ctx_addr, intptr_t arena_addr, intptr_t jobs_addr, int n,
                         uint32_t salt, int esn, int tag_len)
{
    EVP_CIPHER_CTX *ctx = (EVP_CIPHER_CTX *)ctx_addr;
    unsigned char *arena = (unsigned char *)arena_addr;
    int32_t *job = (int32_t *)jobs_addr;
    int ok_count = 0;
    for (int i = 0; i < n; i++, job += 8) {
        unsigned char *p = arena + job[0], *ct = p + 16, nonce[12], aad[12];
        int len = job[1] - 16 - tag_len, outl = 0, ok;
        job[7] = 0;
        if (len < 0) continue;
        put32(nonce, salt);
        for (int k = 0; k < 8; k++) nonce[4 + k] = p[8 + k];
        for (int k = 0; k < 4; k++) aad[k] = p[k];
        if (esn) { put32(aad + 4, (uint32_t)job[4]); for (int k = 0; k < 4; k++) aad[8 + k] = p[4 + k]; }
        else for (int k = 0; k < 4; k++) aad[4 + k] = p[4 + k];
        if (EVP_CipherInit_ex(ctx, 0, 0, 0, nonce, 0) != 1) continue;
        if (EVP_CIPHER_CTX_ctrl(ctx, CTRL_AEAD_SET_TAG, tag_len, ct + len) != 1) continue;
        if (EVP_CipherUpdate(ctx, 0, &outl, aad, esn ? 12 : 8) != 1) continue;
        if (len > 0 && EVP_CipherUpdate(ctx, ct, &outl, ct, len) != 1) continue;
        ok = EVP_CipherFinal_ex(ctx, ct + len, &outl) == 1;
        job[7] = ok;
        ok_count += ok;
    }
    return ok_count;
}
`;
