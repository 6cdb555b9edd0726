#include "process_io.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

namespace lcdmon {
namespace {

std::string Errno(const char* what, const std::string& path, int err) {
  return std::string(what) + " " + path + ": " + strerror(err);
}

void SetBlocking(int fd, bool blocking) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return;
  fcntl(fd, F_SETFL, blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK));
}

// Opens `path` (or /dev/null) for reading; non-blocking so that a FIFO without a writer does
// not hang the monitor.
std::string OpenIn(const std::string& path, bool blocking, Fd* out) {
  const std::string& p = path.empty() ? std::string("/dev/null") : path;
  int fd = ::open(p.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Errno("open stdin", p, errno);
  if (blocking) SetBlocking(fd, true);
  out->reset(fd);
  return "";
}

// Opens an output path: first a read end that is never read (`keep`, FIFOs only), then the
// write end, which then cannot block or fail with ENXIO.
std::string OpenOut(const char* what, const std::string& path, bool blocking, Fd* keep, Fd* out) {
  if (path.empty()) {
    int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return Errno(what, "/dev/null", errno);
    out->reset(fd);
    return "";
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) {
    int k = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (k < 0) return Errno(what, path, errno);
    keep->reset(k);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Errno(what, path, errno);
  if (blocking) SetBlocking(fd, true);
  out->reset(fd);
  return "";
}

// A writer of the stdin FIFO the monitor keeps (never writes): the process's read end then sees
// no EOF when the library's end closes with the calling program. Nothing for /dev/null.
std::string KeepStdinOpen(const std::string& path, Fd* keep) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) return "";
  int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Errno("open stdin", path, errno);
  keep->reset(fd);
  return "";
}

}  // namespace

std::string ProcessIo::Open(const StdioPaths& paths, bool terminal) {
  terminal_ = terminal;
  std::string err;
  if (!terminal) {
    if (!(err = OpenIn(paths.in, true, &child_[0])).empty()) return err;
    if (!(err = KeepStdinOpen(paths.in, &keep_in_)).empty()) return err;
    if (!(err = OpenOut("open stdout", paths.out, true, &keep_out_, &child_[1])).empty())
      return err;
    if (!(err = OpenOut("open stderr", paths.err, true, &keep_err_, &child_[2])).empty())
      return err;
    return "";
  }
  for (int i = 0; i < 3; ++i) {
    int fd = ::open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return Errno("open", "/dev/null", errno);
    child_[i].reset(fd);
  }
  if (!paths.in.empty() && !(err = OpenIn(paths.in, false, &in_)).empty()) return err;
  if (!(err = KeepStdinOpen(paths.in, &keep_in_)).empty()) return err;
  return OpenOut("open stdout", paths.out, false, &keep_out_, &out_);
}

void ProcessIo::CloseChildFds() {
  for (auto& fd : child_) fd.reset();
}

void ProcessIo::SetMaster(Fd master) {
  SetBlocking(master.get(), false);
  master_ = std::move(master);
  master_done_ = false;
}

std::string ProcessIo::Resize(unsigned width, unsigned height) {
  if (!master_) return "the process has no terminal";
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(width);
  ws.ws_row = static_cast<unsigned short>(height);
  if (ioctl(master_.get(), TIOCSWINSZ, &ws) < 0)
    return std::string("resize the terminal: ") + strerror(errno);
  return "";
}

int ProcessIo::PollFds(pollfd* out) const {
  if (!master_ || master_done_) {
    if (out_ && olen_ > 0) {  // flush the last output
      out[0] = {out_.get(), POLLOUT, 0};
      return 1;
    }
    return 0;
  }
  int n = 0;
  short master_events = 0;
  if (olen_ == 0) master_events |= POLLIN;
  if (ilen_ > 0) master_events |= POLLOUT;
  // Not polled while its output waits for the FIFO: a hung-up master would wake poll at once.
  if (master_events) out[n++] = {master_.get(), master_events, 0};
  if (olen_ > 0 && out_) out[n++] = {out_.get(), POLLOUT, 0};
  if (ilen_ == 0 && in_) out[n++] = {in_.get(), POLLIN, 0};
  return n;
}

void ProcessIo::Pump() {
  PumpOutput();
  PumpInput();
}

void ProcessIo::PumpOutput() {
  for (;;) {
    if (olen_ > 0) {
      if (!out_) {
        olen_ = 0;
        continue;
      }
      ssize_t n = ::write(out_.get(), obuf_ + ooff_, olen_);
      if (n > 0) {
        ooff_ += static_cast<size_t>(n);
        olen_ -= static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      out_.reset();  // the FIFO is gone: output is dropped from now on
      olen_ = 0;
      continue;
    }
    ooff_ = 0;
    if (!master_ || master_done_) {
      out_.reset();  // everything is written: the reader sees EOF
      return;
    }
    ssize_t n = ::read(master_.get(), obuf_, sizeof obuf_);
    if (n > 0) {
      olen_ = static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    master_done_ = true;  // EIO: every slave fd is closed
  }
}

void ProcessIo::PumpInput() {
  for (;;) {
    if (!master_ || master_done_) {
      in_.reset();
      ilen_ = 0;
      return;
    }
    if (ilen_ > 0) {
      ssize_t n = ::write(master_.get(), ibuf_ + ioff_, ilen_);
      if (n > 0) {
        last_in_ = ibuf_[ioff_ + static_cast<size_t>(n) - 1];
        ioff_ += static_cast<size_t>(n);
        ilen_ -= static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      ilen_ = 0;
      in_.reset();
      return;
    }
    ioff_ = 0;
    if (!in_) return;
    ssize_t n = ::read(in_.get(), ibuf_, sizeof ibuf_);
    if (n > 0) {
      ilen_ = static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    StdinEof();
  }
}

// The library closed its end of the stdin FIFO. A pty has no half-close, so the process is told
// the way a typing user would: the terminal's EOF character (VEOF), twice after an unfinished
// line in canonical mode (the first one only ends the line).
void ProcessIo::StdinEof() {
  in_.reset();
  termios t{};
  if (tcgetattr(master_.get(), &t) < 0) return;
  char eof = static_cast<char>(t.c_cc[VEOF]);
  ilen_ = 0;
  ioff_ = 0;
  if ((t.c_lflag & ICANON) && last_in_ != '\n') ibuf_[ilen_++] = eof;
  ibuf_[ilen_++] = eof;
}

std::string ListenConsole(const std::string& path, Fd* listener) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return "console socket path too long (" + path + ")";
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Errno("socket for", path, errno);
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return Errno("bind", path, errno);
  if (::listen(fd.get(), 1) < 0) return Errno("listen", path, errno);
  *listener = std::move(fd);
  return "";
}

std::string ReceiveMaster(int listener, Fd* master) {
  Fd conn(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn)
    return std::string("the runtime sent no terminal on its console socket: ") + strerror(errno);
  char name[512];
  iovec iov{name, sizeof name};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return std::string("receive the terminal: ") + strerror(errno);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      master->reset(fd);
      return "";
    }
  }
  return "the runtime's console socket message carried no fd";
}

}  // namespace lcdmon
