// lcd-engine: the Router (http.h).
#include "http.h"

#include <algorithm>
#include <sstream>

namespace lcde {
namespace {

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    if (i >= path.size()) break;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

// Matches segments against a pattern; fills params. A trailing "{x*}" takes the rest (>= 1
// segment), joined with "/".
bool Match(const std::vector<std::string>& pattern, const std::vector<std::string>& segs,
           std::map<std::string, std::string>& params) {
  params.clear();
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    bool var = p.size() > 2 && p.front() == '{' && p.back() == '}';
    if (var && p[p.size() - 2] == '*') {
      if (i != pattern.size() - 1 || segs.size() <= i) return false;
      std::string rest;
      for (size_t k = i; k < segs.size(); ++k) {
        if (k > i) rest += '/';
        rest += segs[k];
      }
      params[p.substr(1, p.size() - 3)] = rest;
      return true;
    }
    if (i >= segs.size()) return false;
    if (var) {
      params[p.substr(1, p.size() - 2)] = segs[i];
    } else if (p != segs[i]) {
      return false;
    }
  }
  return pattern.size() == segs.size();
}

}  // namespace

void Router::Add(const std::string& method, const std::string& pattern, Handler handler) {
  routes_.push_back(Route{method, Split(pattern), std::move(handler)});
}

void Router::Dispatch(Request& req, Response& res) const {
  const std::vector<std::string> segs = Split(req.path);
  bool other_method = false;
  // Literal routes win over patterns: try routes with fewer variables first.
  const Route* best = nullptr;
  int best_vars = 1 << 20;
  std::map<std::string, std::string> params, best_params;
  for (const Route& r : routes_) {
    if (!Match(r.segments, segs, params)) continue;
    std::string method = req.method == "HEAD" ? "GET" : req.method;
    if (r.method != req.method && r.method != method) {
      other_method = true;
      continue;
    }
    int vars = 0;
    for (const auto& s : r.segments) vars += (!s.empty() && s.front() == '{') ? 1 : 0;
    if (vars < best_vars) {
      best = &r;
      best_vars = vars;
      best_params = params;
    }
  }
  if (best == nullptr) {
    if (other_method) throw HttpError(405, "method " + req.method + " not allowed for " + req.path);
    throw HttpError(404, "page not found");
  }
  // Path parameters arrive percent-encoded (image names with ':' and '/').
  for (auto& [k, v] : best_params) v = UrlDecode(v);
  req.params = std::move(best_params);
  best->handler(req, res);
}

}  // namespace lcde
