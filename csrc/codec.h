/* Byte-level encodings that take outside input: pure C, so the fuzzers reach them. */
#ifndef SINCHNUMBERS_CODEC_H
#define SINCHNUMBERS_CODEC_H

#include <stddef.h>
#include "compat.h"

/* Worst case growth of sn_percent_encode: every byte becomes %XX. */
#define SN_PERCENT_ENCODED_MAX(len) ((len) * 3)

/*
 * RFC 3986 percent-encoding of one path segment or query value: the
 * unreserved characters A-Z a-z 0-9 - . _ ~ stay, every other byte becomes
 * %XX in upper case (so "+" is "%2B"). Returns the length written to out.
 */
SN_INTERNAL size_t sn_percent_encode(const unsigned char *in, size_t len, char *out);

/* Room sn_base64_encode needs: the padded output and a terminating NUL. */
#define SN_BASE64_ENCODED_MAX(len) ((((len) + 2) / 3) * 4 + 1)

/* Standard base64 with padding, as HTTP Basic auth wants; returns the length
 * (0 for an input too large to encode). */
SN_INTERNAL size_t sn_base64_encode(const unsigned char *in, size_t len, char *out);

/* Lowercase hex of len bytes into out (2 * len bytes, no terminator). */
SN_INTERNAL void sn_hex_encode(const unsigned char *in, size_t len, char *out);

/* 40 lowercase hex digits of HMAC-SHA1(key, data) into out; 0 on failure. */
SN_INTERNAL int sn_hmac_sha1_hex(const void *key, size_t key_len,
                     const void *data, size_t data_len, char out[40]);

/* 1 when a and b hold the same bytes; time depends on the lengths only. */
SN_INTERNAL int sn_equal_constant_time(const void *a, size_t a_len, const void *b, size_t b_len);

#endif
