// Bad input to lcd-engine, through the docker CLI and raw HTTP on its socket: unknown image,
// container and network; a name in use; malformed JSON; an option the engine cannot honour.
// Each is refused with docker's status and a message naming what was wrong, and the engine
// keeps serving.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "engine_fixture.h"

namespace {

using namespace enginetest;
using json = nlohmann::json;

using EngineBadInputTest = EngineTest;
using EngineBadRequestTest = EngineApiTest;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

TEST_F(EngineBadInputTest, UnknownImageFailsWith125NamingIt) {
  std::string ref = RegistryHost() + "/etnope" + std::to_string(getpid());
  auto r = D({"run", "--rm", ref, "true"}, 120s);
  EXPECT_EQ(r.code, 125) << r.why();
  EXPECT_TRUE(Contains(r.err, "etnope" + std::to_string(getpid()))) << r.why();
}

TEST_F(EngineBadRequestTest, UnknownContainerIsNoSuchObject) {
  std::string name = "etnosuch" + std::to_string(getpid());
  auto r = D({"inspect", name});
  EXPECT_EQ(r.code, 1) << r.why();
  EXPECT_TRUE(Contains(r.err, "No such object") || Contains(r.err, "No such container")) << r.why();
  EXPECT_TRUE(Contains(r.err, name)) << r.why();
  auto s = D({"stop", name});
  EXPECT_NE(s.code, 0) << s.why();
  EXPECT_TRUE(Contains(s.err, "No such container")) << s.why();
}

TEST_F(EngineBadInputTest, UnknownNetworkFailsWith125) {
  std::string net = "etnonet" + std::to_string(getpid());
  auto r = D({"run", "--rm", "--network", net, Busybox(), "true"});
  EXPECT_EQ(r.code, 125) << r.why();
  EXPECT_TRUE(Contains(r.err, "network " + net + " not found")) << r.why();
}

TEST_F(EngineBadInputTest, NameInUseIsAConflict) {
  Cleanup c;
  std::string name = c.Container("taken");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sleep", "100"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto again = D({"run", "-d", "--name", name, Busybox(), "true"});
  EXPECT_EQ(again.code, 125) << again.why();
  EXPECT_TRUE(Contains(again.err, "Conflict") || Contains(again.err, "is already in use"))
      << again.why();
  auto create = D({"create", "--name", name, Busybox(), "true"});
  EXPECT_NE(create.code, 0) << create.why();
  EXPECT_TRUE(Contains(create.err, "is already in use")) << create.why();
  auto i = D({"inspect", "--format", "{{.State.Running}}", name});
  EXPECT_EQ(Trim(i.out), "true") << "the first container was disturbed: " << i.why();
}

TEST_F(EngineBadRequestTest, MalformedJsonIs400) {
  for (const char* path : {"/v1.41/containers/create", "/v1.41/networks/create"}) {
    std::string body = "{\"Image\": ";
    std::string req = std::string("POST ") + path +
                      " HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
                      "Content-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    std::string a = HttpUnix(EngineSocket(), req);
    EXPECT_EQ(HttpStatus(a), 400) << path << " answered: " << a;
    json j = json::parse(HttpBody(a), nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("message") && !j["message"].get<std::string>().empty())
        << path << " answered no {\"message\": ...}: " << a;
  }
  std::string ping =
      HttpUnix(EngineSocket(), "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(HttpStatus(ping), 200) << ping;
}

TEST_F(EngineBadInputTest, UnsupportedGpuRequestIsRefusedClearly) {
  Cleanup c;
  std::string name = c.Container("gpus");
  auto r = D({"run", "--rm", "--name", name, "--gpus", "all", Busybox(), "true"});
  EXPECT_EQ(r.code, 125) << "a GPU request was not refused: " << r.why();
  EXPECT_TRUE(Contains(Lower(r.err), "gpu")) << "the refusal does not say what: " << r.why();
  auto i = D({"inspect", "--format", "{{.State.Running}}", name});
  EXPECT_NE(Trim(i.out), "true") << "the container runs anyway: " << i.why();
}

}  // namespace
