#include "compat.h"
#include "codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        || c == '-' || c == '.' || c == '_' || c == '~';
}

size_t sn_percent_encode(const unsigned char *in, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = in[i];
        if (is_unreserved(c)) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex_upper[c >> 4];
            out[n++] = hex_upper[c & 0x0f];
        }
    }
    return n;
}

void sn_hex_encode(const unsigned char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_lower[in[i] >> 4];
        out[2 * i + 1] = hex_lower[in[i] & 0x0f];
    }
}

size_t sn_base64_encode(const unsigned char *in, size_t len, char *out)
{
    /* OpenSSL takes an int length; credentials are a few dozen bytes. */
    if (len > 0x3fffffff)
        return 0;
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

int sn_hmac_sha1_hex(const void *key, size_t key_len,
                     const void *data, size_t data_len, char out[40])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;

    /* OpenSSL wants an int key length; a longer key is not a real hmacSecret. */
    if (key_len > 0x7fffffff)
        return 0;
    if (!HMAC(EVP_sha1(), key, (int)key_len, data, data_len, digest, &digest_len)
        || digest_len != 20)
        return 0;
    sn_hex_encode(digest, digest_len, out);
    OPENSSL_cleanse(digest, sizeof digest);
    return 1;
}

int sn_equal_constant_time(const void *a, size_t a_len, const void *b, size_t b_len)
{
    /* The length of a signature is public (40 hex digits); its bytes are not. */
    if (a_len != b_len)
        return 0;
    return CRYPTO_memcmp(a, b, a_len) == 0;
}
