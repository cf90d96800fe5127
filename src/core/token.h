/*
 * token.h: API token secrets: how they are made and how they are stored (only as a hash).
 * Used by http/auth (resolution), api/orgs (creation) and cairnd admin.
 */
#ifndef CAIRN_TOKEN_H
#define CAIRN_TOKEN_H

/* Hashes a token secret for storage/lookup: hex SHA-256 into out (65 bytes). */
void token_hash(char out[65], const char *token);

/* Makes a new token secret ("cairn_" + 43 base64url chars of 256 random bits) into out
 * (64 bytes). Returns 0, or -1 when the system has no randomness to give. */
int token_new(char out[64]);

#endif
