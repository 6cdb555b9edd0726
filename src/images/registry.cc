// A client of one OCI distribution (v2) registry over libcurl (registry.h): ping, challenge,
// Bearer and Basic auth, manifest resolution and fetch, blob streaming with retries.
#include "images/registry.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"

namespace libcontainerd::images {

namespace detail {
// registry_auth.cc
std::string Base64Encode(std::string_view in);
std::optional<std::string> Base64Decode(std::string_view in);
}  // namespace detail

namespace {

constexpr size_t kMaxManifestSize = 4 << 20;
constexpr int kMaxRedirects = 10;
constexpr auto kFirstBackoff = std::chrono::milliseconds(200);
constexpr long kConnectTimeoutMs = 15000;
constexpr long kLowSpeedSeconds = 30;  // less than 1 byte/s for this long: a stalled transfer
constexpr long kBlobBufferSize = 256L << 10;  // curl's receive buffer for a streamed blob

const char* const kManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// "scheme://authority/..." -> "authority" (lower case).
std::string AuthorityOf(std::string_view url) {
  size_t p = url.find("://");
  if (p == std::string_view::npos) return {};
  url.remove_prefix(p + 3);
  size_t end = url.find_first_of("/?#");
  std::string_view auth = url.substr(0, end);
  if (size_t at = auth.rfind('@'); at != std::string_view::npos) auth.remove_prefix(at + 1);
  return Lower(auth);
}

std::string SchemeOf(std::string_view url) {
  size_t p = url.find("://");
  return p == std::string_view::npos ? std::string() : Lower(url.substr(0, p));
}

// ---- one HTTP exchange -------------------------------------------------------------------------

struct HttpRequest {
  std::string method = "GET";  // "GET" or "HEAD"
  std::string url;
  std::vector<std::string> headers;
  bool verify_tls = true;
  bool no_proxy = false;
  // The body of a 2xx answer goes to sink when set (its exceptions abort the transfer and are
  // rethrown), with the answer's status; other bodies (errors, redirects) and every body without
  // a sink go into HttpResponse::body up to max_body (more aborts with body_too_large; with a
  // sink, an error body's excess is dropped).
  std::function<void(long status, std::string_view)> sink;
  size_t max_body = kMaxManifestSize;
};

struct HttpResponse {
  CURLcode code = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined by ", "
  std::vector<std::string> www_authenticate;
  std::string body;
  bool body_too_large = false;
  std::string redirect_url;  // absolute Location of a 3xx
  int64_t body_bytes = 0;    // bytes received (sink or body)

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Transfer {
  CURL* handle;
  const Context* ctx;
  HttpRequest* req;
  HttpResponse* resp;
  std::exception_ptr sink_error;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new response (after 100 Continue): forget the last
    t->resp->headers.clear();
    t->resp->www_authenticate.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name = Lower(Trim(line.substr(0, colon)));
  std::string value = Trim(line.substr(colon + 1));
  if (name == "www-authenticate") t->resp->www_authenticate.push_back(value);
  auto [it, inserted] = t->resp->headers.emplace(name, value);
  if (!inserted) it->second += ", " + value;
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  t->resp->body_bytes += static_cast<int64_t>(len);
  long status = 0;
  curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
  if (t->req->sink && status >= 200 && status < 300) {
    try {
      t->req->sink(status, std::string_view(data, len));
    } catch (...) {
      t->sink_error = std::current_exception();
      return 0;  // aborts with CURLE_WRITE_ERROR
    }
    return len;
  }
  if (t->req->sink) {  // an error's body: keep its start for the message
    constexpr size_t kMaxErrorBody = 64 << 10;
    if (t->resp->body.size() < kMaxErrorBody)
      t->resp->body.append(data, std::min(len, kMaxErrorBody - t->resp->body.size()));
    return len;
  }
  if (t->resp->body.size() + len > t->req->max_body) {
    t->resp->body_too_large = true;
    return 0;
  }
  t->resp->body.append(data, len);
  return len;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->ctx->cancelled()) return 1;
  if (auto d = t->ctx->deadline(); d && Context::Clock::now() >= *d) return 1;
  return 0;
}

// Runs the transfer on a multi handle so that a cancellation wakes it at once (the progress
// callback alone runs only about once a second while a transfer stalls).
CURLcode RunTransfer(const Context& ctx, CURL* h) {
  CURLM* m = curl_multi_init();
  if (m == nullptr) return curl_easy_perform(h);
  struct MultiCleanup {
    CURLM* m;
    CURL* h;
    ~MultiCleanup() {
      curl_multi_remove_handle(m, h);
      curl_multi_cleanup(m);
    }
  } cleanup{m, h};
  curl_multi_add_handle(m, h);
  auto registration = ctx.OnCancel([m] { curl_multi_wakeup(m); });
  int running = 1;
  while (true) {
    if (curl_multi_perform(m, &running) != CURLM_OK) return CURLE_FAILED_INIT;
    if (running == 0) break;
    if (ctx.cancelled()) return CURLE_ABORTED_BY_CALLBACK;
    if (auto d = ctx.deadline(); d && Context::Clock::now() >= *d) return CURLE_ABORTED_BY_CALLBACK;
    if (curl_multi_poll(m, nullptr, 0, 100, nullptr) != CURLM_OK) return CURLE_FAILED_INIT;
  }
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(m, &left))
    if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) return msg->data.result;
  return CURLE_FAILED_INIT;
}

// Performs one request (no redirects followed). Never throws for transport or HTTP failures:
// the caller classifies them; rethrows a sink's exception and the context's cancellation.
HttpResponse Perform(const Context& ctx, HttpRequest& req, const char* op) {
  GlobalInit();
  HttpResponse resp;
  CURL* h = curl_easy_init();
  if (h == nullptr) throw Error(ErrorKind::kUnknown, "curl_easy_init failed", {.op = op});
  Transfer t{h, &ctx, &req, &resp, nullptr};
  struct Cleanup {
    CURL* h;
    curl_slist* list = nullptr;
    ~Cleanup() {
      curl_slist_free_all(list);
      curl_easy_cleanup(h);
    }
  } cleanup{h};
  for (const auto& header : req.headers)
    cleanup.list = curl_slist_append(cleanup.list, header.c_str());
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, cleanup.list);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "libcontainerd");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "identity");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, kLowSpeedSeconds);
  if (!req.verify_tls) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  // Go's http client never proxies loopback; neither do we.
  if (req.no_proxy) curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  if (req.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  // A blob streams in larger pieces (curl's default is 16 KiB): fewer callbacks and reads.
  if (req.sink) curl_easy_setopt(h, CURLOPT_BUFFERSIZE, kBlobBufferSize);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
  if (auto d = ctx.deadline()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*d - Context::Clock::now());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, left.count())));
  }

  resp.code = RunTransfer(ctx, h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  if (char* location = nullptr;
      curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location)
    resp.redirect_url = location;
  if (t.sink_error) std::rethrow_exception(t.sink_error);
  ctx.ThrowIfDone(op);
  if (resp.code != CURLE_OK) resp.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(resp.code);
  return resp;
}

// Transport failures worth another try (the registry may come back, or the reset was a blip).
bool TransientCurl(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool TransientStatus(long status) { return status >= 500 || status == 429 || status == 408; }

// An error the retry loop may try again; `error` is what the caller sees when tries run out.
struct RetryableError {
  Error error;
};

// The registry's JSON error body ({"errors":[{"code","message"}]}) in one line, or "".
std::string RegistryErrors(const std::string& body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return {};
  auto errs = doc.find("errors");
  if (errs == doc.end() || !errs->is_array()) return {};
  std::string out;
  for (const auto& e : *errs) {
    if (!e.is_object()) continue;
    std::string code = e.value("code", std::string());
    std::string message = e.value("message", std::string());
    if (!out.empty()) out += "; ";
    out += code.empty() ? message : code + (message.empty() ? "" : ": " + message);
  }
  return out;
}

std::string StatusText(const HttpResponse& resp) {
  std::string s = "HTTP " + std::to_string(resp.status);
  if (std::string errs = RegistryErrors(resp.body); !errs.empty()) s += " (" + errs + ")";
  return s;
}

std::string MediaTypeOf(const std::string& content_type) {
  return Trim(std::string_view(content_type).substr(0, content_type.find(';')));
}

void SleepFor(const Context& ctx, std::chrono::milliseconds d, const char* op) {
  auto until = Context::Clock::now() + d;
  while (Context::Clock::now() < until) {
    ctx.ThrowIfDone(op);
    auto step = std::min<Context::Clock::duration>(std::chrono::milliseconds(20),
                                                   until - Context::Clock::now());
    if (step > Context::Clock::duration::zero()) std::this_thread::sleep_for(step);
  }
  ctx.ThrowIfDone(op);
}

std::string ConfigPath(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir && *dir)
    return std::string(dir) + "/config.json";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.docker/config.json";
  return {};
}

}  // namespace

// ---- Registry ----------------------------------------------------------------------------------

struct Registry::Impl {
  Reference ref;
  RegistryOptions options;
  std::string host;        // as contacted
  std::string config_key;  // host name for credentials (ref.domain)
  bool insecure = false;   // https without verification, then http

  std::mutex mu;  // guards everything below
  bool pinged = false;
  std::string scheme;
  bool creds_loaded = false;
  std::optional<Credentials> creds;
  std::string auth_scheme;                    // "", "basic", "bearer"
  std::map<std::string, std::string> bearer;  // the challenge's params
  struct Token {
    std::string value;
    Context::Clock::time_point expires;
  };
  std::map<std::string, Token> tokens;  // by scope

  std::string Scope() const { return "repository:" + ref.path + ":pull"; }
  std::string What() const {
    return ref.path + (ref.digest.empty() ? ":" + ref.tag : "@" + ref.digest);
  }

  Error Unreachable(const HttpResponse& resp, const char* op) const {
    return Error(ErrorKind::kUnavailable,
                 "registry " + host + " is unreachable: " + resp.curl_error +
                     " (is it running, and is the address right?)",
                 {.op = op});
  }

  bool VerifyFor(const std::string& url) const {
    std::string authority = AuthorityOf(url);
    if (authority == host) return !insecure;
    if (IsLoopbackHost(authority)) return false;
    for (const auto& h : options.insecure_registries)
      if (Lower(h) == authority) return false;
    return true;
  }

  HttpRequest NewRequest(const std::string& url) const {
    HttpRequest req;
    req.url = url;
    req.verify_tls = VerifyFor(url);
    req.no_proxy = IsLoopbackHost(AuthorityOf(url));
    return req;
  }

  std::optional<Credentials> LoadCredentials() {
    if (options.credentials) return options.credentials;
    std::string path = ConfigPath(options.docker_config);
    if (path.empty()) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      if (!options.docker_config.empty())
        throw Error(ErrorKind::kInvalidArgument,
                    "cannot read docker config " + path + ": check the path",
                    {.op = "Registry", .path = path});
      return std::nullopt;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    try {
      return CredentialsFromDockerConfig(ss.str(), config_key);
    } catch (const Error& e) {
      throw Error(e.kind(), e.message() + " (" + path + ")", {.op = "Registry", .path = path});
    }
  }

  // GET /v2/ once: picks the scheme and learns the challenge. Caller holds mu.
  void PingLocked(const Context& ctx) {
    if (pinged) return;
    if (!creds_loaded) {
      creds = LoadCredentials();
      creds_loaded = true;
    }
    std::vector<std::string> schemes;
    if (options.plain_http)
      schemes = {"http"};
    else if (insecure)
      schemes = {"https", "http"};  // docker's rule for insecure registries
    else
      schemes = {"https"};
    HttpResponse last;
    for (size_t i = 0; i < schemes.size(); ++i) {
      std::string url = schemes[i] + "://" + host + "/v2/";
      HttpRequest req = NewRequest(url);
      HttpResponse resp;
      for (int attempt = 0;; ++attempt) {
        resp = Perform(ctx, req, "Registry.Ping");
        bool transient = (resp.code != CURLE_OK && TransientCurl(resp.code)) ||
                         (resp.code == CURLE_OK && TransientStatus(resp.status));
        if (!transient || attempt >= options.max_retries) break;
        SleepFor(ctx, kFirstBackoff * (1 << attempt), "Registry.Ping");
      }
      if (resp.code != CURLE_OK) {
        Log(LogLevel::kDebug,
            "registry " + host + ": " + schemes[i] + " ping failed: " + resp.curl_error);
        last = resp;
        continue;
      }
      if (resp.status == 200 || resp.status == 401) {
        scheme = schemes[i];
        if (resp.status == 401) LearnChallenge(resp);
        pinged = true;
        return;
      }
      if (TransientStatus(resp.status))
        throw Error(
            ErrorKind::kUnavailable,
            "registry " + host + " answered GET /v2/ with " + StatusText(resp) + ": retry later",
            {.op = "Registry.Ping"});
      // 404 and friends: the v2 API is not served here (or a proxy answers).
      throw Error(ErrorKind::kFailedPrecondition,
                  "registry " + host + " does not serve the registry API v2: GET " + url +
                      " gave " + StatusText(resp),
                  {.op = "Registry.Ping"});
    }
    throw Unreachable(last, "Registry.Ping");
  }

  // Reads the challenges of a 401. Caller holds mu.
  void LearnChallenge(const HttpResponse& resp) {
    for (const auto& header : resp.www_authenticate) {
      for (auto& ch : ParseChallenges(header)) {
        if (ch.scheme == "bearer" && ch.params.count("realm")) {
          auth_scheme = "bearer";
          bearer = ch.params;
          return;
        }
        if (ch.scheme == "basic") auth_scheme = "basic";
      }
    }
  }

  // The Authorization header for a request to the registry ("" for none). Caller holds mu.
  std::string AuthorizationLocked(const Context& ctx) {
    if (auth_scheme == "basic") {
      if (!creds) return {};
      return "Authorization: Basic " +
             detail::Base64Encode(creds->username + ":" + creds->password);
    }
    if (auth_scheme != "bearer") return {};
    std::string scope = Scope();
    auto it = tokens.find(scope);
    if (it != tokens.end() && Context::Clock::now() < it->second.expires)
      return "Authorization: Bearer " + it->second.value;
    std::string token = FetchTokenLocked(ctx, scope);
    return "Authorization: Bearer " + token;
  }

  std::string FetchTokenLocked(const Context& ctx, const std::string& scope) {
    const std::string realm = bearer["realm"];
    std::string url = realm;
    url += realm.find('?') == std::string::npos ? '?' : '&';
    auto escape = [](const std::string& s) {
      char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
      std::string out = e ? e : "";
      curl_free(e);
      return out;
    };
    std::string query;
    if (auto s = bearer.find("service"); s != bearer.end()) query += "service=" + escape(s->second);
    if (!query.empty()) query += '&';
    query += "scope=" + escape(scope);
    if (creds && !creds->username.empty() && creds->username != "<token>")
      query += "&account=" + escape(creds->username);
    url += query;
    HttpRequest req = NewRequest(url);
    req.max_body = 1 << 20;
    if (SchemeOf(url) != "https" && SchemeOf(url) != "http")
      throw Error(ErrorKind::kFailedPrecondition,
                  "authentication to " + host + " failed: the token realm \"" + realm +
                      "\" is not an http(s) URL",
                  {.op = "Registry.Token"});
    if (creds)
      req.headers.push_back("Authorization: Basic " +
                            detail::Base64Encode(creds->username + ":" + creds->password));
    HttpResponse resp;
    for (int attempt = 0;; ++attempt) {
      resp = Perform(ctx, req, "Registry.Token");
      bool transient = (resp.code != CURLE_OK && TransientCurl(resp.code)) ||
                       (resp.code == CURLE_OK && TransientStatus(resp.status));
      if (!transient || attempt >= options.max_retries) break;
      SleepFor(ctx, kFirstBackoff * (1 << attempt), "Registry.Token");
    }
    if (resp.code != CURLE_OK)
      throw Error(ErrorKind::kUnavailable,
                  "token service " + AuthorityOf(url) + " of registry " + host +
                      " is unreachable: " + resp.curl_error,
                  {.op = "Registry.Token"});
    if (resp.status == 401 || resp.status == 403)
      throw Error(ErrorKind::kFailedPrecondition,
                  "authentication to " + host + " failed: the token service refused " +
                      (creds ? "the credentials of user \"" + creds->username + "\""
                             : std::string("anonymous access: give credentials")) +
                      " (" + StatusText(resp) + ")",
                  {.op = "Registry.Token"});
    if (resp.status != 200)
      throw Error(TransientStatus(resp.status) ? ErrorKind::kUnavailable : ErrorKind::kUnknown,
                  "authentication to " + host + " failed: the token service " + AuthorityOf(url) +
                      " answered " + StatusText(resp),
                  {.op = "Registry.Token"});
    auto doc = nlohmann::json::parse(resp.body, nullptr, false);
    std::string token;
    if (doc.is_object()) {
      if (auto t = doc.find("token"); t != doc.end() && t->is_string()) token = *t;
      if (token.empty())
        if (auto t = doc.find("access_token"); t != doc.end() && t->is_string()) token = *t;
    }
    if (token.empty())
      throw Error(ErrorKind::kUnknown,
                  "authentication to " + host +
                      " failed: the token service's answer has no "
                      "\"token\" or \"access_token\"",
                  {.op = "Registry.Token"});
    int64_t expires_in = 60;
    if (auto e = doc.find("expires_in"); e != doc.end() && e->is_number_integer())
      expires_in = std::max<int64_t>(e->get<int64_t>(), 1);
    // Renew a little before the token runs out.
    auto lifetime = std::chrono::seconds(expires_in);
    auto margin = std::min<std::chrono::seconds>(std::chrono::seconds(10), lifetime / 4);
    tokens[scope] = Token{token, Context::Clock::now() + lifetime - margin};
    return token;
  }

  std::string BaseUrl(const Context& ctx) {
    std::lock_guard lock(mu);
    PingLocked(ctx);
    return scheme + "://" + host;
  }

  // Sends req to the registry with auth, following redirects (Authorization only to the
  // registry itself) and answering one 401 with new credentials or token. Returns the final
  // response; transport failures throw RetryableError or Error{kUnavailable}.
  HttpResponse Send(const Context& ctx, HttpRequest req, const char* op) {
    const std::vector<std::string> base_headers = req.headers;
    bool reauthed = false;
    while (true) {
      std::string authorization;
      {
        std::lock_guard lock(mu);
        PingLocked(ctx);
        authorization = AuthorizationLocked(ctx);
      }
      HttpRequest hop = req;
      hop.headers = base_headers;
      if (!authorization.empty()) hop.headers.push_back(authorization);
      HttpResponse resp;
      for (int redirects = 0;; ++redirects) {
        resp = Perform(ctx, hop, op);
        if (resp.code != CURLE_OK) {
          if (resp.body_too_large) return resp;
          Error e = AuthorityOf(hop.url) == host
                        ? Unreachable(resp, op)
                        : Error(ErrorKind::kUnavailable,
                                "blob storage " + AuthorityOf(hop.url) + " of registry " + host +
                                    " is unreachable: " + resp.curl_error,
                                {.op = op});
          if (TransientCurl(resp.code)) throw RetryableError{e};
          throw e;
        }
        bool redirect = resp.status == 301 || resp.status == 302 || resp.status == 303 ||
                        resp.status == 307 || resp.status == 308;
        if (!redirect || resp.redirect_url.empty()) break;
        if (redirects >= kMaxRedirects)
          throw Error(ErrorKind::kUnknown, "registry " + host + ": too many redirects", {.op = op});
        std::string next = resp.redirect_url;
        HttpRequest follow = NewRequest(next);
        follow.method = hop.method;
        follow.sink = hop.sink;
        follow.max_body = hop.max_body;
        follow.headers = base_headers;
        // The registry's credentials go to the registry only.
        if (AuthorityOf(next) == host && SchemeOf(next) == SchemeOf(req.url) &&
            !authorization.empty())
          follow.headers.push_back(authorization);
        hop = std::move(follow);
      }
      if (resp.status == 401 && !reauthed) {
        std::lock_guard lock(mu);
        std::string before = auth_scheme;
        LearnChallenge(resp);
        tokens.erase(Scope());
        // Retry once when something changed or a token may have expired.
        if (auth_scheme == "bearer" || (auth_scheme == "basic" && before != "basic" && creds)) {
          reauthed = true;
          continue;
        }
      }
      if (TransientStatus(resp.status))
        throw RetryableError{Error(ErrorKind::kUnavailable,
                                   "registry " + host + " answered " + StatusText(resp) + " for " +
                                       What() + ": retry later",
                                   {.op = op})};
      if (resp.status == 401 || resp.status == 403) {
        std::lock_guard lock(mu);
        std::string why;
        if (auth_scheme == "basic" && !creds)
          why =
              "the registry asks for credentials and none were given: pass credentials or add "
              "them to docker's config.json (docker login)";
        else if (creds)
          why = "the registry refused the credentials of user \"" + creds->username + "\" for " +
                ref.path;
        else
          why =
              "access to " + ref.path + " was denied (it does not exist, or it needs credentials)";
        throw Error(ErrorKind::kFailedPrecondition,
                    "authentication to " + host + " failed: " + why + " (" + StatusText(resp) + ")",
                    {.op = op});
      }
      return resp;
    }
  }

  template <typename F>
  auto WithRetries(const Context& ctx, const char* op, F&& fn) {
    auto backoff = kFirstBackoff;
    for (int attempt = 0;; ++attempt) {
      try {
        return fn();
      } catch (const RetryableError& r) {
        if (attempt >= options.max_retries) throw r.error;
        Log(LogLevel::kDebug, std::string(op) + ": " + r.error.message() + "; retrying in " +
                                  std::to_string(backoff.count()) + " ms");
        SleepFor(ctx, backoff, op);
        backoff *= 2;
      }
    }
  }

  [[noreturn]] void ThrowStatus(const HttpResponse& resp, const std::string& what,
                                const char* op) const {
    if (resp.status == 404)
      throw Error(ErrorKind::kNotFound,
                  what + " not found in registry " + host + " (" + StatusText(resp) +
                      "): check the repository, tag or digest",
                  {.op = op});
    throw Error(ErrorKind::kUnknown,
                "registry " + host + " answered " + StatusText(resp) + " for " + what, {.op = op});
  }

  std::string ManifestUrl(const Context& ctx, const std::string& reference) {
    return BaseUrl(ctx) + "/v2/" + ref.path + "/manifests/" + reference;
  }
};

Registry::Registry(const Reference& ref, RegistryOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->ref = ref;
  impl_->options = std::move(options);
  impl_->config_key = ref.domain;
  impl_->host = ref.domain == "docker.io" ? "registry-1.docker.io" : Lower(ref.domain);
  bool insecure = IsLoopbackHost(impl_->host);
  for (const auto& h : impl_->options.insecure_registries)
    if (Lower(h) == Lower(ref.domain) || Lower(h) == impl_->host) insecure = true;
  impl_->insecure = insecure || impl_->options.plain_http;
  if (impl_->options.max_retries < 0) impl_->options.max_retries = 0;
}

Registry::~Registry() = default;

std::string Registry::scheme() const {
  std::lock_guard lock(impl_->mu);
  return impl_->scheme;
}

const std::string& Registry::host() const { return impl_->host; }

Descriptor Registry::Resolve(const Context& ctx) {
  static constexpr const char* kOp = "Registry.Resolve";
  Impl& r = *impl_;
  const std::string reference = r.ref.digest.empty() ? r.ref.tag : r.ref.digest;
  const std::string what =
      r.ref.path + (r.ref.digest.empty() ? ":" + r.ref.tag : "@" + r.ref.digest);
  const std::string url = r.ManifestUrl(ctx, reference);

  auto schema1 = [&] {
    return Error(ErrorKind::kInvalidArgument,
                 what + " in registry " + r.host +
                     " is a schema 1 manifest: schema 1 manifests are not supported: push the "
                     "image again with a current docker or skopeo",
                 {.op = kOp});
  };

  Descriptor desc;
  // HEAD first (cheap); some registries do not answer it: then GET.
  HttpResponse head = r.WithRetries(ctx, kOp, [&] {
    HttpRequest req = r.NewRequest(url);
    req.method = "HEAD";
    req.headers.push_back(std::string("Accept: ") + kManifestAccept);
    return r.Send(ctx, req, kOp);
  });
  if (head.status == 404) r.ThrowStatus(head, what, kOp);
  std::string media_type = MediaTypeOf(head.Header("content-type"));
  if (head.status == 200) {
    if (IsSchema1Type(media_type)) throw schema1();
    desc.digest = head.Header("docker-content-digest");
    desc.media_type = media_type;
    const std::string length = head.Header("content-length");
    desc.size = length.empty() ? -1 : std::atoll(length.c_str());
  }
  bool usable = head.status == 200 && !desc.digest.empty() && desc.size > 0 &&
                (IsIndexType(desc.media_type) || IsManifestType(desc.media_type));
  if (!usable) {
    HttpResponse get = r.WithRetries(ctx, kOp, [&] {
      HttpRequest req = r.NewRequest(url);
      req.headers.push_back(std::string("Accept: ") + kManifestAccept);
      return r.Send(ctx, req, kOp);
    });
    if (get.body_too_large)
      throw Error(ErrorKind::kInvalidArgument,
                  what + " in registry " + r.host + " is larger than 4 MiB: not a manifest",
                  {.op = kOp});
    if (get.status != 200) r.ThrowStatus(get, what, kOp);
    media_type = MediaTypeOf(get.Header("content-type"));
    std::string sniffed = SniffMediaType(get.body);
    if (IsSchema1Type(media_type) || IsSchema1Type(sniffed)) throw schema1();
    if (!IsIndexType(media_type) && !IsManifestType(media_type)) media_type = sniffed;
    if (!IsIndexType(media_type) && !IsManifestType(media_type))
      throw Error(ErrorKind::kInvalidArgument,
                  what + " in registry " + r.host + " has media type \"" + media_type +
                      "\": not an OCI or Docker manifest or index",
                  {.op = kOp});
    desc.media_type = media_type;
    desc.digest = Sha256Digest(get.body);
    desc.size = static_cast<int64_t>(get.body.size());
    const std::string header_digest = get.Header("docker-content-digest");
    if (!header_digest.empty() && header_digest != desc.digest)
      throw Error(ErrorKind::kFailedPrecondition,
                  "manifest of " + what + " from registry " + r.host + " has digest " +
                      desc.digest + " but the registry says " + header_digest,
                  {.op = kOp});
  }
  if (!r.ref.digest.empty() && desc.digest != r.ref.digest)
    throw Error(ErrorKind::kFailedPrecondition,
                "registry " + r.host + " answered " + what + " with digest " + desc.digest +
                    ": digest mismatch for " + r.ref.digest,
                {.op = kOp});
  ValidateDigest(desc.digest, "the manifest digest of " + what);
  return desc;
}

std::string Registry::FetchManifest(const Context& ctx, const Descriptor& desc) {
  static constexpr const char* kOp = "Registry.FetchManifest";
  Impl& r = *impl_;
  ValidateDigest(desc.digest, "manifest digest");
  if (desc.size > static_cast<int64_t>(kMaxManifestSize))
    throw Error(ErrorKind::kInvalidArgument,
                "manifest " + desc.digest + " of " + r.ref.path + " is " +
                    std::to_string(desc.size) + " bytes: more than the 4 MiB a manifest may have",
                {.op = kOp});
  const std::string what = r.ref.path + "@" + desc.digest;
  const std::string url = r.ManifestUrl(ctx, desc.digest);
  HttpResponse resp = r.WithRetries(ctx, kOp, [&] {
    HttpRequest req = r.NewRequest(url);
    std::string accept = "Accept: ";
    if (!desc.media_type.empty()) accept += desc.media_type + ", ";
    req.headers.push_back(accept + kManifestAccept);
    // One byte over the expected size is enough to see a mismatch.
    if (desc.size > 0) req.max_body = static_cast<size_t>(desc.size) + 1;
    return r.Send(ctx, req, kOp);
  });
  if (resp.body_too_large)
    throw Error(ErrorKind::kFailedPrecondition,
                "manifest " + desc.digest + " from registry " + r.host + " is larger than the " +
                    std::to_string(desc.size) + " bytes expected: digest mismatch",
                {.op = kOp});
  if (resp.status != 200) r.ThrowStatus(resp, what, kOp);
  if (IsSchema1Type(MediaTypeOf(resp.Header("content-type"))) ||
      IsSchema1Type(SniffMediaType(resp.body)))
    throw Error(ErrorKind::kInvalidArgument,
                what +
                    " is a schema 1 manifest: schema 1 manifests are not supported: push the "
                    "image again with a current docker or skopeo",
                {.op = kOp});
  if (desc.size > 0 && static_cast<int64_t>(resp.body.size()) != desc.size)
    throw Error(ErrorKind::kFailedPrecondition,
                "manifest " + desc.digest + " from registry " + r.host + " has " +
                    std::to_string(resp.body.size()) + " bytes, expected " +
                    std::to_string(desc.size) + ": size mismatch",
                {.op = kOp});
  std::string got = Sha256Digest(resp.body);
  if (got != desc.digest)
    throw Error(ErrorKind::kFailedPrecondition,
                "manifest " + desc.digest + " from registry " + r.host + " has digest " + got +
                    ": digest mismatch",
                {.op = kOp});
  return std::move(resp.body);
}

void Registry::FetchBlob(const Context& ctx, const Descriptor& desc, int64_t offset,
                         const std::function<void(std::string_view)>& sink) {
  static constexpr const char* kOp = "Registry.FetchBlob";
  Impl& r = *impl_;
  ValidateDigest(desc.digest, "blob digest");
  if (offset < 0) offset = 0;
  if (desc.size > 0 && offset >= desc.size) return;
  const std::string what = "blob " + desc.digest + " of " + r.ref.path;
  const std::string url = r.BaseUrl(ctx) + "/v2/" + r.ref.path + "/blobs/" + desc.digest;

  int64_t delivered = 0;  // bytes passed to sink across tries
  r.WithRetries(ctx, kOp, [&] {
    const int64_t start = offset + delivered;
    if (desc.size > 0 && start >= desc.size) return;  // all delivered before a late failure
    HttpRequest req = r.NewRequest(url);
    if (start > 0) req.headers.push_back("Range: bytes=" + std::to_string(start) + "-");
    bool first = true;
    int64_t skip = 0;  // a server that ignores Range sends from byte 0: drop what we have
    req.sink = [&](long status, std::string_view data) {
      if (first) {
        first = false;
        if (status == 200) skip = start;
      }
      if (skip > 0) {
        size_t drop = static_cast<size_t>(std::min<int64_t>(skip, data.size()));
        data.remove_prefix(drop);
        skip -= static_cast<int64_t>(drop);
      }
      if (data.empty()) return;
      sink(data);
      delivered += static_cast<int64_t>(data.size());
    };
    HttpResponse resp = r.Send(ctx, std::move(req), kOp);
    if (resp.status != 200 && resp.status != 206) r.ThrowStatus(resp, what, kOp);
  });
}

}  // namespace libcontainerd::images
