// lcd-engine: the HTTP seam between the server (Boost.Beast, server.cc only) and the handlers.
// Nothing here names Boost, so handler files compile without it.
//
// Model: one thread per connection (small stacks), handlers synchronous. A handler answers once
// through its Response: Send (a whole body), BeginStream + Write... (chunked, flushed per
// Write), or Hijack (101 UPGRADED, then the raw connection). Throwing HttpError (or anything)
// before answering gives docker's JSON error {"message": ...} with that status.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lcde {

// The API version the engine announces (docker CLI 28 negotiates down to it) and the oldest
// it accepts in a versioned path (/v1.NN/...).
inline constexpr const char* kApiVersion = "1.41";
inline constexpr const char* kMinApiVersion = "1.24";

struct Request {
  std::string method;       // "GET", "POST", "HEAD", "DELETE", "PUT"
  std::string target;       // as received, e.g. "/v1.41/containers/json?all=1"
  std::string path;         // without the version prefix and the query: "/containers/json"
  std::string api_version;  // "1.41" from the path, or kApiVersion when the path had none
  std::multimap<std::string, std::string> query;  // decoded
  std::map<std::string, std::string> headers;     // names in lower case
  std::string body;
  std::map<std::string, std::string> params;  // from the route pattern: {"id": "..."}

  // The query parameter's value, or def when absent.
  std::string Query(const std::string& key, const std::string& def = "") const;
  bool Has(const std::string& key) const { return query.count(key) != 0; }
  // docker's boolean rule: absent = def; "", "0", "false", "False" (and "no") = false.
  bool QueryBool(const std::string& key, bool def = false) const;
  // An integer parameter; throws HttpError 400 naming it when malformed.
  int64_t QueryInt(const std::string& key, int64_t def) const;
  std::string Header(const std::string& lower_name) const;
  const std::string& Param(const std::string& name) const;
};

// An error answered as {"message": message} with status (400, 404, 409, 500, 501, ...).
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string message)
      : std::runtime_error(std::move(message)), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

class Response {
 public:
  virtual ~Response() = default;
  // A whole answer. headers are extra header fields.
  virtual void Send(int status, std::string_view content_type, std::string body,
                    const std::map<std::string, std::string>& headers = {}) = 0;
  // Starts a chunked answer and flushes its headers at once (docker run waits for them).
  virtual void BeginStream(int status, std::string_view content_type) = 0;
  // The same with extra header fields (docker cp's X-Docker-Container-Path-Stat). The server
  // sends them; this default (for test doubles) drops them.
  virtual void BeginStreamWithHeaders(int status, std::string_view content_type,
                                      const std::map<std::string, std::string>& headers) {
    (void)headers;
    BeginStream(status, content_type);
  }
  // One piece of a chunked answer, flushed. False when the client is gone (stop then).
  virtual bool Write(std::string_view data) = 0;
  // Answers 101 UPGRADED (Connection: Upgrade, Upgrade: tcp) with content_type and returns the
  // connection's fd for raw use (blocking). Bytes the client sent after the request and the
  // server already read come first from ReadHijacked. The fd stays owned by the server, which
  // closes it after the handler returns; shutdown(SHUT_WR) on it is allowed.
  virtual int Hijack(std::string_view content_type) = 0;
  // Reads from a hijacked connection: buffered bytes first, then the fd. 0 = EOF, -1 = error.
  virtual long ReadHijacked(char* buf, size_t len) = 0;
  // True when the peer closed its side or the connection failed (checked without blocking).
  virtual bool ClientGone() = 0;
  // Whether an answer was started (then an error can no longer be sent as JSON).
  virtual bool Started() const = 0;
};

using Handler = std::function<void(Request&, Response&)>;

// Routes by method and pattern ("/containers/{id}/start"; a {name} matches one segment, a
// trailing {name*} the rest of the path, for image names with slashes).
class Router {
 public:
  void Add(const std::string& method, const std::string& pattern, Handler handler);
  // Finds the handler, fills req.params and calls it; 404 {"message": "page not found"} when
  // nothing matches the path, 405 when the path matches for another method only.
  void Dispatch(Request& req, Response& res) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// Helpers for handlers.
void SendJson(Response& res, int status, std::string json_text);
void SendNoContent(Response& res, int status = 204);
// Answers an exception as docker does: HttpError's status, libcontainerd::Error's kind mapped
// (kNotFound 404, kAlreadyExists and kFailedPrecondition 409, kInvalidArgument 400,
// kNotImplemented 501, others 500), anything else 500. Used by the server around each handler.
void SendError(Response& res, const std::exception& e);
int StatusForError(const std::exception& e);
std::string ErrorBody(std::string_view message);  // {"message":"..."}

struct ServerOptions {
  std::string socket_path;
  unsigned mode = 0660;
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 512 * 1024 * 1024;  // image loads are bodies
  size_t max_json_body_bytes = 4 * 1024 * 1024;
  int read_timeout_seconds = 60;  // for a request's header and body
  size_t max_connections = 4096;  // beyond: 503
  size_t thread_stack_bytes = 512 * 1024;
};

// Listens on a unix socket; one thread per connection. Thread-safety: Run on one thread, Stop
// from any (signal-safe: writes to a pipe).
class Server {
 public:
  Server(ServerOptions options, const Router& router);
  ~Server();
  void Run();   // until Stop; removes the socket file at the end
  void Stop();  // stops accepting; open connections are shut down
  size_t Connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-decoding of a query component ("+" is a space).
std::string UrlDecode(std::string_view s);

}  // namespace lcde
