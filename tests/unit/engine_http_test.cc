// lcd-engine's HTTP layer (tools/lcd-engine/server.cc, http.cc) over a real unix socket, with
// handlers of the test's own: routing and versioned paths, keep-alive, chunked streams flushed at
// once, hijacking (101 UPGRADED, raw both ways, half-close seen as EOF), the limits (header size,
// read timeout of a slow client, connection count) and hundreds of open streams at once.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../../tools/lcd-engine/http.h"

namespace {

using namespace std::chrono_literals;
using lcde::HttpError;
using lcde::Request;
using lcde::Response;

int Connect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads until `needle` is in the data, the peer closes, or timeout.
std::string ReadUntil(int fd, const std::string& needle, std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (needle.empty() || out.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// True when the peer closes the connection within timeout.
bool ClosedWithin(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return true;
  }
  return false;
}

class EngineHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lcde-http-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    socket_ = (dir_ / "s.sock").string();
    router_.Add("GET", "/hello", [](Request& req, Response& res) {
      res.Send(200, "text/plain", "hello " + req.api_version + " " + req.Query("who", "nobody"));
    });
    router_.Add("GET", "/items/{id}", [](Request& req, Response& res) {
      res.Send(200, "text/plain", "item " + req.Param("id"));
    });
    router_.Add("GET", "/images/{name*}", [](Request& req, Response& res) {
      res.Send(200, "text/plain", "image " + req.Param("name"));
    });
    router_.Add("POST", "/fail",
                [](Request&, Response&) { throw HttpError(409, "conflict here"); });
    router_.Add("GET", "/stream", [this](Request&, Response& res) {
      res.BeginStream(200, "application/json");
      res.Write("{\"n\":1}\n");
      // The first piece is out before the handler goes on: the client sees it while we wait.
      while (!release_ && !res.ClientGone()) std::this_thread::sleep_for(5ms);
      res.Write("{\"n\":2}\n");
    });
    router_.Add("POST", "/hijack", [](Request&, Response& res) {
      int fd = res.Hijack("application/vnd.docker.raw-stream");
      char buf[256];
      std::string got;
      for (;;) {  // echo upper-cased until the client's half-close
        long n = res.ReadHijacked(buf, sizeof buf);
        if (n <= 0) break;
        std::string s(buf, static_cast<size_t>(n));
        for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        SendAll(fd, s);
      }
      SendAll(fd, "EOF-SEEN");
    });
  }
  void TearDown() override {
    if (server_) {
      server_->Stop();
      if (thread_.joinable()) thread_.join();
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Start(lcde::ServerOptions o = {}) {
    o.socket_path = socket_;
    server_ = std::make_unique<lcde::Server>(o, router_);
    thread_ = std::thread([this] { server_->Run(); });
    for (int i = 0; i < 200; ++i) {
      int fd = Connect(socket_);
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      std::this_thread::sleep_for(10ms);
    }
    FAIL() << "the server did not listen on " << socket_;
  }
  std::string Exchange(const std::string& request) {
    int fd = Connect(socket_);
    EXPECT_GE(fd, 0);
    SendAll(fd, request);
    std::string out = ReadUntil(fd, "", 3s);
    ::close(fd);
    return out;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string socket_;
  lcde::Router router_;
  std::unique_ptr<lcde::Server> server_;
  std::thread thread_;
  std::atomic<bool> release_{false};
};

TEST_F(EngineHttpTest, RoutesVersionedPathsQueryAndGreedyParameters) {
  Start();
  std::string a =
      Exchange("GET /v1.40/hello?who=me HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
  EXPECT_NE(a.find("HTTP/1.1 200"), std::string::npos) << a;
  EXPECT_NE(a.find("hello 1.40 me"), std::string::npos) << a;
  EXPECT_NE(a.find("Api-Version: 1.41"), std::string::npos) << a;
  std::string b = Exchange("GET /items/42 HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
  EXPECT_NE(b.find("item 42"), std::string::npos) << b;
  std::string c = Exchange(
      "GET /images/127.0.0.1%3A5000/a/b%3Av1 HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
  EXPECT_NE(c.find("image 127.0.0.1:5000/a/b:v1"), std::string::npos) << c;
  std::string d = Exchange("GET /nothing HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
  EXPECT_NE(d.find("HTTP/1.1 404"), std::string::npos) << d;
  EXPECT_NE(d.find("{\"message\":\"page not found\"}"), std::string::npos) << d;
  std::string e = Exchange(
      "POST /fail HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n"
      "Connection: close\r\n\r\n");
  EXPECT_NE(e.find("HTTP/1.1 409"), std::string::npos) << e;
  EXPECT_NE(e.find("conflict here"), std::string::npos) << e;
  std::string f = Exchange("GET /v1.99/hello HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
  EXPECT_NE(f.find("HTTP/1.1 400"), std::string::npos) << f;
  EXPECT_NE(f.find("too new"), std::string::npos) << f;
  std::string g = Exchange("HEAD /hello HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
  EXPECT_NE(g.find("HTTP/1.1 200"), std::string::npos) << g;
  EXPECT_EQ(g.find("hello"), std::string::npos) << "HEAD has no body: " << g;
}

TEST_F(EngineHttpTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  int fd = Connect(socket_);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) {
    SendAll(fd, "GET /items/" + std::to_string(i) + " HTTP/1.1\r\nHost: d\r\n\r\n");
    std::string a = ReadUntil(fd, "item " + std::to_string(i), 3s);
    EXPECT_NE(a.find("item " + std::to_string(i)), std::string::npos) << a;
  }
  ::close(fd);
}

TEST_F(EngineHttpTest, StreamHeadersAndFirstChunkArriveBeforeTheHandlerEnds) {
  Start();
  int fd = Connect(socket_);
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET /stream HTTP/1.1\r\nHost: d\r\n\r\n");
  std::string first = ReadUntil(fd, "{\"n\":1}", 3s);
  EXPECT_NE(first.find("Transfer-Encoding: chunked"), std::string::npos) << first;
  EXPECT_NE(first.find("{\"n\":1}"), std::string::npos) << first;
  EXPECT_EQ(first.find("{\"n\":2}"), std::string::npos) << "the handler has not gone on yet";
  release_ = true;
  std::string rest = ReadUntil(fd, "0\r\n\r\n", 3s);
  EXPECT_NE(rest.find("{\"n\":2}"), std::string::npos) << rest;
  EXPECT_NE(rest.find("0\r\n\r\n"), std::string::npos) << "the chunked answer is ended" << rest;
  ::close(fd);
}

TEST_F(EngineHttpTest, HijackIsRawBothWaysAndHalfCloseIsEof) {
  Start();
  int fd = Connect(socket_);
  ASSERT_GE(fd, 0);
  // Bytes sent right after the request (already read by the server) come first.
  SendAll(fd,
          "POST /hijack HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
          "Content-Length: 0\r\n\r\nearly ");
  std::string head = ReadUntil(fd, "EARLY ", 3s);
  EXPECT_NE(head.find("HTTP/1.1 101 UPGRADED"), std::string::npos) << head;
  EXPECT_NE(head.find("Upgrade: tcp"), std::string::npos) << head;
  SendAll(fd, "late");
  EXPECT_NE(ReadUntil(fd, "LATE", 3s).find("LATE"), std::string::npos);
  ::shutdown(fd, SHUT_WR);
  EXPECT_NE(ReadUntil(fd, "EOF-SEEN", 3s).find("EOF-SEEN"), std::string::npos);
  ::close(fd);
}

TEST_F(EngineHttpTest, OversizedHeaderIs431AndMalformedRequestIs400) {
  lcde::ServerOptions o;
  o.max_header_bytes = 4096;
  Start(o);
  std::string big(8192, 'a');
  std::string a = Exchange("GET /hello HTTP/1.1\r\nHost: d\r\nX-Big: " + big + "\r\n\r\n");
  EXPECT_NE(a.find("HTTP/1.1 431"), std::string::npos) << a.substr(0, 200);
  EXPECT_NE(a.find("4096"), std::string::npos) << "the limit is named: " << a.substr(0, 300);
  std::string b = Exchange("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_NE(b.find("HTTP/1.1 400"), std::string::npos) << b;
}

TEST_F(EngineHttpTest, SlowClientIsDisconnectedAfterTheReadTimeout) {
  lcde::ServerOptions o;
  o.read_timeout_seconds = 1;
  Start(o);
  int fd = Connect(socket_);
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET /hello HTTP/1.1\r\nHost: d\r\n");  // the header never ends
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(ClosedWithin(fd, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);
  ::close(fd);
}

TEST_F(EngineHttpTest, HundredsOfOpenStreamsAtOnceAndConnectionsBeyondTheLimitAre503) {
  lcde::ServerOptions o;
  o.max_connections = 300;
  Start(o);
  std::vector<int> fds;
  for (int i = 0; i < 300; ++i) {
    int fd = Connect(socket_);
    ASSERT_GE(fd, 0);
    SendAll(fd, "GET /stream HTTP/1.1\r\nHost: d\r\n\r\n");
    fds.push_back(fd);
  }
  for (int fd : fds)
    ASSERT_NE(ReadUntil(fd, "{\"n\":1}", 10s).find("{\"n\":1}"), std::string::npos);
  EXPECT_EQ(server_->Connections(), 300u);
  std::string over = Exchange("GET /hello HTTP/1.1\r\nHost: d\r\n\r\n");
  EXPECT_NE(over.find("HTTP/1.1 503"), std::string::npos) << over;
  // Clients leaving end their streams and free their threads.
  for (int fd : fds) ::close(fd);
  for (int i = 0; i < 200 && server_->Connections() > 0; ++i) std::this_thread::sleep_for(25ms);
  EXPECT_EQ(server_->Connections(), 0u);
  std::string again = Exchange("GET /hello HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
  EXPECT_NE(again.find("HTTP/1.1 200"), std::string::npos) << again;
}

}  // namespace
