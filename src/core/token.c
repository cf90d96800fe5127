/*
 * token.c: API token secrets.
 */
#include "core/token.h"

#include <stdint.h>
#include <string.h>

#include "util/crypto.h"

void token_hash(char out[65], const char *token)
{
    crypto_sha256_hex(out, token, strlen(token));
}

int token_new(char out[64])
{
    uint8_t raw[32];
    if (crypto_random(raw, sizeof(raw)) < 0)
        return -1;
    memcpy(out, "cairn_", 6);
    crypto_base64url(out + 6, raw, sizeof(raw));
    return 0;
}
