// The Bearer token service of the registry fixture (see token_server.h).
#include "token_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <thread>

#include "registry_fixture.h"

namespace lcdtest {
namespace {

using json = nlohmann::json;

std::string Base64(const unsigned char* p, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::string Base64Url(const std::string& s) {
  std::string b = Base64(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  for (char& c : b) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!b.empty() && b.back() == '=') b.pop_back();
  return b;
}

// Standard base64 (with padding) decoded; nullopt-like empty + false on error.
bool Unbase64(const std::string& in, std::string* out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  std::string buf(in.size() / 4 * 3, '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
  if (len < 0) return false;
  size_t pad = 0;
  for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) ++pad;
  buf.resize(static_cast<size_t>(len) - pad);
  *out = std::move(buf);
  return true;
}

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string Rfc3339(time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct Request {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::string authorization;
};

bool ParseRequest(const std::string& raw, Request* r) {
  auto eol = raw.find("\r\n");
  if (eol == std::string::npos) return false;
  std::string line = raw.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
  r->method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto q = target.find('?');
  r->path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string qs = target.substr(q + 1);
    size_t start = 0;
    while (start <= qs.size()) {
      size_t amp = qs.find('&', start);
      std::string kv = qs.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      if (!kv.empty()) {
        auto eq = kv.find('=');
        r->query.emplace_back(UrlDecode(kv.substr(0, eq)),
                              eq == std::string::npos ? "" : UrlDecode(kv.substr(eq + 1)));
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  size_t pos = eol + 2;
  while (true) {
    size_t e = raw.find("\r\n", pos);
    if (e == std::string::npos || e == pos) break;
    std::string h = raw.substr(pos, e - pos);
    auto colon = h.find(':');
    if (colon != std::string::npos) {
      std::string name = h.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "authorization") r->authorization = value;
    }
    pos = e + 2;
  }
  return true;
}

}  // namespace

struct TokenServer::Impl {
  Options o;
  std::string cert_path;
  std::string cert_der_b64;
  EVP_PKEY* key = nullptr;
  int listen_fd = -1;
  int wake[2] = {-1, -1};
  int port = 0;
  std::thread thread;
  std::atomic<int> requests{0};

  ~Impl() {
    if (thread.joinable()) {
      char c = 1;
      if (::write(wake[1], &c, 1) < 0) std::perror("TokenServer wake");
      thread.join();
    }
    if (listen_fd >= 0) ::close(listen_fd);
    for (int fd : wake)
      if (fd >= 0) ::close(fd);
    if (key) EVP_PKEY_free(key);
  }

  void MakeKey() {
    std::filesystem::create_directories(o.dir);
    std::string key_path = o.dir + "/token-key.pem";
    cert_path = o.dir + "/token-cert.pem";
    std::string out;
    std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -subj '/CN=" + o.issuer +
        "' -keyout '" + key_path + "' -out '" + cert_path + "' 2>&1";
    if (Sh(cmd, &out) != 0) throw std::runtime_error("openssl req -x509 failed:\n" + out);
    FILE* f = std::fopen(key_path.c_str(), "r");
    if (!f) throw std::runtime_error("cannot read " + key_path);
    key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!key) throw std::runtime_error("cannot parse the token key " + key_path);
    f = std::fopen(cert_path.c_str(), "r");
    if (!f) throw std::runtime_error("cannot read " + cert_path);
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!cert) throw std::runtime_error("cannot parse the token certificate " + cert_path);
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    X509_free(cert);
    if (len <= 0) throw std::runtime_error("cannot encode the token certificate");
    cert_der_b64 = Base64(der, static_cast<size_t>(len));
    OPENSSL_free(der);
  }

  void Listen() {
    listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd, 64) != 0 ||
        ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error(std::string("token server: cannot listen on 127.0.0.1: ") +
                               std::strerror(errno));
    port = ntohs(a.sin_port);
    if (::pipe2(wake, O_CLOEXEC) != 0)
      throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }

  std::string Sign(const json& claims) const {
    json header = {{"alg", "RS256"}, {"typ", "JWT"}, {"x5c", {cert_der_b64}}};
    std::string input = Base64Url(header.dump()) + "." + Base64Url(claims.dump());
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    size_t sig_len = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
      throw std::runtime_error("token signing failed");
    std::string sig(sig_len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
      throw std::runtime_error("token signing failed");
    sig.resize(sig_len);
    return input + "." + Base64Url(sig);
  }

  static std::string Response(int status, const std::string& reason, const std::string& body,
                              const std::string& extra_headers = "") {
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
  }

  std::string Handle(const Request& r) const {
    if (r.method != "GET" || r.path != "/token")
      return Response(404, "Not Found", R"({"errors":[{"code":"NOT_FOUND"}]})");
    std::string service;
    std::vector<std::string> scopes;
    for (const auto& [k, v] : r.query) {
      if (k == "service") service = v;
      if (k == "scope") {
        // One scope parameter may hold several scopes separated by spaces.
        size_t s = 0;
        while (s < v.size()) {
          size_t sp = v.find(' ', s);
          std::string one = v.substr(s, sp == std::string::npos ? std::string::npos : sp - s);
          if (!one.empty()) scopes.push_back(one);
          if (sp == std::string::npos) break;
          s = sp + 1;
        }
      }
    }
    if (service != o.service)
      return Response(400, "Bad Request",
                      json{{"details", "unknown service '" + service + "'"}}.dump());
    std::string unauthorized_header = "WWW-Authenticate: Basic realm=\"lcd-test-token\"\r\n";
    bool authenticated = false;
    if (!r.authorization.empty()) {
      std::string decoded;
      if (r.authorization.rfind("Basic ", 0) != 0 ||
          !Unbase64(r.authorization.substr(6), &decoded) || decoded != o.user + ":" + o.password)
        return Response(401, "Unauthorized", R"({"details":"wrong credentials"})",
                        unauthorized_header);
      authenticated = true;
    } else if (!o.anonymous_pull) {
      return Response(401, "Unauthorized", R"({"details":"credentials required"})",
                      unauthorized_header);
    }
    std::set<std::string> allowed = {"pull"};
    if (authenticated) allowed.insert("push");
    json access = json::array();
    for (const auto& scope : scopes) {
      auto first = scope.find(':');
      auto last = scope.rfind(':');
      if (first == std::string::npos || first == last) continue;
      std::string type = scope.substr(0, first);
      std::string name = scope.substr(first + 1, last - first - 1);
      if (type != "repository") continue;
      json actions = json::array();
      std::string list = scope.substr(last + 1);
      std::set<std::string> granted;
      size_t s = 0;
      while (s <= list.size()) {
        size_t comma = list.find(',', s);
        std::string a = list.substr(s, comma == std::string::npos ? std::string::npos : comma - s);
        if (a == "*") {
          granted.insert(allowed.begin(), allowed.end());
        } else if (allowed.count(a)) {
          granted.insert(a);
        }
        if (comma == std::string::npos) break;
        s = comma + 1;
      }
      for (const auto& a : granted) actions.push_back(a);
      if (!actions.empty())
        access.push_back({{"type", "repository"}, {"name", name}, {"actions", actions}});
    }
    time_t now = std::time(nullptr);
    unsigned char jti[16];
    RAND_bytes(jti, sizeof jti);
    json claims = {{"iss", o.issuer},
                   {"sub", authenticated ? o.user : ""},
                   {"aud", o.service},
                   {"exp", now + 300},
                   {"nbf", now - 10},
                   {"iat", now},
                   {"jti", Base64Url(std::string(reinterpret_cast<char*>(jti), sizeof jti))},
                   {"access", access}};
    std::string token = Sign(claims);
    json body = {{"token", token},
                 {"access_token", token},
                 {"expires_in", 300},
                 {"issued_at", Rfc3339(now)}};
    return Response(200, "OK", body.dump());
  }

  void Serve() {
    while (true) {
      pollfd p[2] = {{listen_fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (p[1].revents) return;
      if (!(p[0].revents & POLLIN)) continue;
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      std::string raw;
      char buf[4096];
      while (raw.find("\r\n\r\n") == std::string::npos && raw.size() < 65536) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        raw.append(buf, static_cast<size_t>(n));
      }
      std::string reply;
      Request r;
      if (ParseRequest(raw, &r)) {
        try {
          reply = Handle(r);
        } catch (const std::exception& e) {
          reply = Response(500, "Internal Server Error", json{{"details", e.what()}}.dump());
        }
      } else {
        reply = Response(400, "Bad Request", R"({"details":"malformed request"})");
      }
      ++requests;
      size_t off = 0;
      while (off < reply.size()) {
        ssize_t n = ::send(fd, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      ::close(fd);
    }
  }
};

TokenServer::TokenServer(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->o = std::move(options);
  impl_->MakeKey();
  impl_->Listen();
  impl_->thread = std::thread([this] { impl_->Serve(); });
}

TokenServer::~TokenServer() = default;

std::string TokenServer::realm() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + "/token";
}
const std::string& TokenServer::cert_path() const { return impl_->cert_path; }
int TokenServer::port() const { return impl_->port; }
int TokenServer::requests() const { return impl_->requests.load(); }

}  // namespace lcdtest
