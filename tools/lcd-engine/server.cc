// lcd-engine: the HTTP/1.1 server on a unix socket (http.h). Boost.Beast parses requests and
// writes response headers over a small blocking stream of our own (FdStream: poll-based read
// timeouts, MSG_NOSIGNAL writes), so hijacking is the plain fd. One thread per connection with
// a small stack: streams (logs -f, events, stats, attach) block their own thread only.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <system_error>

#include "common.h"
#include "http.h"
#include "libcontainerd/log.h"

namespace lcde {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;

// A blocking byte stream over a connected socket, meeting Beast's SyncReadStream and
// SyncWriteStream. Reads give up after timeout_ms without data (error: timeout).
class FdStream {
 public:
  explicit FdStream(int fd) : fd_(fd) {}
  int fd() const { return fd_; }
  void set_timeout_ms(int ms) { timeout_ms_ = ms; }

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, beast::error_code& ec) {
    ec = {};
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      asio::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      pollfd p{fd_, POLLIN, 0};
      int r;
      do {
        r = ::poll(&p, 1, timeout_ms_);
      } while (r < 0 && errno == EINTR);
      if (r == 0) {
        ec = beast::error::timeout;
        return 0;
      }
      ssize_t n;
      do {
        n = ::recv(fd_, b.data(), b.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n == 0) {
        ec = asio::error::eof;
        return 0;
      }
      if (n < 0) {
        ec = beast::error_code(errno, boost::system::system_category());
        return 0;
      }
      return static_cast<size_t>(n);
    }
    return 0;
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    beast::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers, beast::error_code& ec) {
    ec = {};
    size_t total = 0;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      asio::const_buffer b = *it;
      if (!SendAll(static_cast<const char*>(b.data()), b.size())) {
        ec = beast::error_code(errno, boost::system::system_category());
        return total;
      }
      total += b.size();
    }
    return total;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers) {
    beast::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  bool SendAll(const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

 private:
  int fd_;
  int timeout_ms_ = -1;
};

const char* Reason(int status) {
  return bhttp::obsolete_reason(static_cast<bhttp::status>(status)).data();
}

class ConnResponse : public Response {
 public:
  ConnResponse(FdStream& stream, beast::flat_buffer& buffer, bool head, bool keep_alive)
      : stream_(stream), buffer_(buffer), head_(head), keep_alive_(keep_alive) {}

  void Send(int status, std::string_view content_type, std::string body,
            const std::map<std::string, std::string>& headers) override {
    if (started_) return;
    started_ = true;
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
    CommonHeaders(res);
    if (!content_type.empty()) res.set(bhttp::field::content_type, content_type);
    for (const auto& [k, v] : headers) res.set(k, v);
    res.keep_alive(keep_alive_);
    const size_t len = body.size();
    if (!head_) res.body() = std::move(body);
    res.content_length(len);
    beast::error_code ec;
    if (head_) {
      bhttp::response_serializer<bhttp::string_body> sr{res};
      bhttp::write_header(stream_, sr, ec);
    } else {
      bhttp::write(stream_, res, ec);
    }
    if (ec) failed_ = true;
  }

  void BeginStream(int status, std::string_view content_type) override {
    BeginStreamWithHeaders(status, content_type, {});
  }

  void BeginStreamWithHeaders(int status, std::string_view content_type,
                              const std::map<std::string, std::string>& headers) override {
    if (started_) return;
    started_ = true;
    streaming_ = true;
    bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), 11};
    CommonHeaders(res);
    res.set(bhttp::field::content_type, content_type);
    for (const auto& [k, v] : headers) res.set(k, v);
    res.chunked(true);
    res.keep_alive(keep_alive_);
    bhttp::response_serializer<bhttp::empty_body> sr{res};
    beast::error_code ec;
    bhttp::write_header(stream_, sr, ec);
    if (ec) failed_ = true;
  }

  bool Write(std::string_view data) override {
    if (failed_ || !streaming_) return false;
    if (data.empty()) return true;
    char head[32];
    int n = snprintf(head, sizeof head, "%zx\r\n", data.size());
    std::string frame;
    frame.reserve(static_cast<size_t>(n) + data.size() + 2);
    frame.append(head, static_cast<size_t>(n));
    frame.append(data);
    frame.append("\r\n");
    if (!stream_.SendAll(frame.data(), frame.size())) failed_ = true;
    return !failed_;
  }

  int Hijack(std::string_view content_type) override {
    if (started_) throw HttpError(500, "internal: hijack after the answer started");
    started_ = true;
    hijacked_ = true;
    std::string head = "HTTP/1.1 101 UPGRADED\r\nContent-Type: ";
    head.append(content_type);
    head += "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ";
    head += kApiVersion;
    head += "\r\n\r\n";
    if (!stream_.SendAll(head.data(), head.size())) failed_ = true;
    return stream_.fd();
  }

  long ReadHijacked(char* buf, size_t len) override {
    if (buffer_.size() > 0) {
      size_t n = std::min(len, buffer_.size());
      std::memcpy(buf, buffer_.data().data(), n);
      buffer_.consume(n);
      return static_cast<long>(n);
    }
    ssize_t n;
    do {
      n = ::recv(stream_.fd(), buf, len, 0);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  bool ClientGone() override {
    if (failed_) return true;
    pollfd p{stream_.fd(), POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return true;
    return false;
  }

  bool Started() const override { return started_; }

  // After the handler: ends a chunked answer; whether the connection can serve another request.
  bool Finish() {
    if (streaming_ && !failed_) {
      if (!stream_.SendAll("0\r\n\r\n", 5)) failed_ = true;
    }
    return !failed_ && !hijacked_ && keep_alive_;
  }

 private:
  template <class Msg>
  void CommonHeaders(Msg& res) {
    res.set(bhttp::field::server, "lcd-engine");
    res.set("Api-Version", kApiVersion);
    res.set("Docker-Experimental", "false");
    res.set("Ostype", "linux");
  }

  FdStream& stream_;
  beast::flat_buffer& buffer_;
  bool head_;
  bool keep_alive_;
  bool started_ = false;
  bool streaming_ = false;
  bool hijacked_ = false;
  bool failed_ = false;
};

// Fills path, api_version and query from the target; throws HttpError 400 for a version outside
// what the engine serves.
void ParseTarget(Request& req) {
  std::string_view t = req.target;
  size_t q = t.find('?');
  std::string_view path = t.substr(0, q);
  if (q != std::string_view::npos) {
    std::string_view qs = t.substr(q + 1);
    while (!qs.empty()) {
      size_t amp = qs.find('&');
      std::string_view kv = qs.substr(0, amp);
      if (!kv.empty()) {
        size_t eq = kv.find('=');
        std::string k = UrlDecode(kv.substr(0, eq));
        std::string v = eq == std::string_view::npos ? "" : UrlDecode(kv.substr(eq + 1));
        req.query.emplace(std::move(k), std::move(v));
      }
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }
  req.api_version = kApiVersion;
  if (path.size() > 3 && path.substr(0, 3) == "/v1" && path[3] == '.') {
    size_t slash = path.find('/', 1);
    std::string v(
        path.substr(2, slash == std::string_view::npos ? std::string_view::npos : slash - 2));
    if (CompareApiVersions(v, kApiVersion) > 0)
      throw HttpError(400, "client version " + v +
                               " is too new. Maximum supported API version is " + kApiVersion);
    if (CompareApiVersions(v, kMinApiVersion) < 0)
      throw HttpError(400, "client version " + v +
                               " is too old. Minimum supported API version is " + kMinApiVersion +
                               ", please upgrade your client to a newer version");
    req.api_version = v;
    path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
  }
  req.path = std::string(path);
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  const Router& router;
  int listen_fd = -1;
  int stop_pipe[2] = {-1, -1};
  std::atomic<bool> stopping{false};
  mutable std::mutex mu;
  std::condition_variable cv;
  std::set<int> conns;  // open connection fds

  Impl(ServerOptions o, const Router& r) : options(std::move(o)), router(r) {}

  void Serve(int fd);
  static void* Thread(void* arg);
  struct ThreadArg {
    Impl* impl;
    int fd;
  };
};

void* Server::Impl::Thread(void* arg) {
  std::unique_ptr<ThreadArg> a(static_cast<ThreadArg*>(arg));
  a->impl->Serve(a->fd);
  {
    std::lock_guard l(a->impl->mu);
    a->impl->conns.erase(a->fd);
    ::close(a->fd);
  }
  a->impl->cv.notify_all();
  return nullptr;
}

void Server::Impl::Serve(int fd) {
  FdStream stream(fd);
  beast::flat_buffer buffer;
  for (;;) {
    stream.set_timeout_ms(options.read_timeout_seconds * 1000);
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    beast::error_code ec;
    bhttp::read(stream, buffer, parser, ec);
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == beast::error::timeout || ec == asio::error::connection_reset)
      return;
    if (ec) {
      std::string why =
          ec == bhttp::error::header_limit
              ? "request header larger than " + std::to_string(options.max_header_bytes) + " bytes"
          : ec == bhttp::error::body_limit
              ? "request body larger than " + std::to_string(options.max_body_bytes) + " bytes"
              : "malformed HTTP request: " + ec.message();
      ConnResponse res(stream, buffer, false, false);
      SendJson(res, ec == bhttp::error::header_limit ? 431 : 400, ErrorBody(why));
      return;
    }
    auto& msg = parser.get();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers[name] = std::string(f.value());
    }
    req.body = std::move(msg.body());
    const bool keep_alive = msg.keep_alive();
    ConnResponse res(stream, buffer, req.method == "HEAD", keep_alive);
    stream.set_timeout_ms(-1);  // handlers read hijacked connections themselves
    try {
      ParseTarget(req);
      router.Dispatch(req, res);
      if (!res.Started()) SendNoContent(res, 204);
    } catch (const std::exception& e) {
      if (!res.Started()) {
        SendError(res, e);
      } else {
        libcontainerd::Log(libcontainerd::LogLevel::kWarning,
                           "lcd-engine: " + req.method + " " + req.path +
                               " failed after its answer started: " + e.what());
      }
    }
    if (!res.Finish()) return;
  }
}

Server::Server(ServerOptions options, const Router& router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}

Server::~Server() {
  Stop();
  if (impl_->stop_pipe[0] >= 0) ::close(impl_->stop_pipe[0]);
  if (impl_->stop_pipe[1] >= 0) ::close(impl_->stop_pipe[1]);
}

void Server::Stop() {
  impl_->stopping = true;
  if (impl_->stop_pipe[1] >= 0) {
    char c = 1;
    [[maybe_unused]] ssize_t n = ::write(impl_->stop_pipe[1], &c, 1);
  }
}

size_t Server::Connections() const {
  std::lock_guard l(impl_->mu);
  return impl_->conns.size();
}

void Server::Run() {
  Impl& s = *impl_;
  if (::pipe2(s.stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (s.options.socket_path.size() >= sizeof addr.sun_path)
    throw std::runtime_error("socket path too long (max " +
                             std::to_string(sizeof addr.sun_path - 1) +
                             " bytes): " + s.options.socket_path);
  std::strcpy(addr.sun_path, s.options.socket_path.c_str());
  s.listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s.listen_fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  // A socket file left by an engine that died: remove it when nobody answers on it.
  if (::connect(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    ::close(s.listen_fd);
    throw std::runtime_error("another engine is serving on " + s.options.socket_path +
                             ": stop it or choose another socket with -H");
  }
  ::close(s.listen_fd);
  ::unlink(s.options.socket_path.c_str());
  s.listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::bind(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(s.listen_fd);
    throw std::system_error(err, std::generic_category(), "bind " + s.options.socket_path);
  }
  ::chmod(s.options.socket_path.c_str(), s.options.mode);
  if (::listen(s.listen_fd, 512) != 0) {
    int err = errno;
    ::close(s.listen_fd);
    throw std::system_error(err, std::generic_category(), "listen");
  }
  while (!s.stopping) {
    pollfd p[2] = {{s.listen_fd, POLLIN, 0}, {s.stop_pipe[0], POLLIN, 0}};
    int r = ::poll(p, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    if (!(p[0].revents & POLLIN)) continue;
    int fd = ::accept4(s.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    {
      std::lock_guard l(s.mu);
      if (s.conns.size() >= s.options.max_connections) {
        FdStream st(fd);
        std::string body =
            ErrorBody("too many connections (" + std::to_string(s.options.max_connections) + ")");
        std::string msg =
            "HTTP/1.1 503 " + std::string(Reason(503)) +
            "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: close\r\n\r\n" + body;
        st.SendAll(msg.data(), msg.size());
        ::close(fd);
        continue;
      }
      s.conns.insert(fd);
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, s.options.thread_stack_bytes);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    auto* arg = new Impl::ThreadArg{&s, fd};
    if (pthread_create(&th, &attr, &Impl::Thread, arg) != 0) {
      delete arg;
      std::lock_guard l(s.mu);
      s.conns.erase(fd);
      ::close(fd);
    }
    pthread_attr_destroy(&attr);
  }
  ::close(s.listen_fd);
  s.listen_fd = -1;
  ::unlink(s.options.socket_path.c_str());
  // Wake every connection (streams see the hang-up) and wait for their threads.
  std::unique_lock l(s.mu);
  for (int fd : s.conns) ::shutdown(fd, SHUT_RDWR);
  s.cv.wait_for(l, std::chrono::seconds(10), [&] { return s.conns.empty(); });
}

}  // namespace lcde
