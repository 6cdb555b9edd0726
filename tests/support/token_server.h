// A registry token service for the Bearer tests (the fixture's own, loopback only): answers
// GET /token?service=S&scope=repository:NAME:ACTIONS with a JWT signed RS256 by a key whose
// self-signed certificate (cert_path()) is the registry's rootcertbundle and rides in the
// token's x5c header. Requests with the right Basic credentials get pull and push; anonymous
// ones get pull only when anonymous_pull (else 401, as do wrong credentials).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace lcdtest {

class TokenServer {
 public:
  struct Options {
    std::string dir;  // key and certificate go here (created)
    std::string service;
    std::string issuer;
    std::string user;
    std::string password;
    bool anonymous_pull = true;
  };

  // Makes the key and certificate (openssl CLI) and serves on 127.0.0.1:<free port> from a
  // thread of its own until destroyed. Throws std::runtime_error on failure.
  explicit TokenServer(Options options);
  ~TokenServer();
  TokenServer(const TokenServer&) = delete;
  TokenServer& operator=(const TokenServer&) = delete;

  std::string realm() const;  // http://127.0.0.1:PORT/token
  const std::string& cert_path() const;
  int port() const;
  // Number of /token requests answered (any status).
  int requests() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lcdtest
