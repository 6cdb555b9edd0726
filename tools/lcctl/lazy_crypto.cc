// lcctl loads libcrypto when it first hashes a blob (image digests: src/images/descriptor.cc),
// not at start-up (lazy_load.h): the library needs six EVP functions of it, and OpenSSL linked
// statically or mapped at start costs more than the rest of lcctl's start-up. lcctl links the
// library's static archive, so these calls bind to the forwarders below.
#include <openssl/evp.h>

#include "lazy_load.h"

#define LCCTL_LAZY_CRYPTO(ret, name, params, args) \
  LCCTL_LAZY_FORWARD("libcrypto.so.3", "libssl3", ret, name, params, args)

LCCTL_LAZY_CRYPTO(const EVP_MD*, EVP_sha256, (void), ())
LCCTL_LAZY_CRYPTO(EVP_MD_CTX*, EVP_MD_CTX_new, (void), ())
LCCTL_LAZY_CRYPTO(void, EVP_MD_CTX_free, (EVP_MD_CTX * ctx), (ctx))
LCCTL_LAZY_CRYPTO(int, EVP_DigestInit_ex, (EVP_MD_CTX * ctx, const EVP_MD* type, ENGINE* impl),
                  (ctx, type, impl))
LCCTL_LAZY_CRYPTO(int, EVP_DigestUpdate, (EVP_MD_CTX * ctx, const void* data, size_t n),
                  (ctx, data, n))
LCCTL_LAZY_CRYPTO(int, EVP_DigestFinal_ex, (EVP_MD_CTX * ctx, unsigned char* md, unsigned int* n),
                  (ctx, md, n))
