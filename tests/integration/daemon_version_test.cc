// Proves the generated gRPC stubs talk to the real containerd started by the fixture.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>

#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "harness.h"
#include "test_util.h"

using lcdtest::RunCommand;

TEST(GeneratedStubs, VersionMatchesTheInstalledContainerd) {
  auto channel =
      grpc::CreateChannel("unix:" + lcdtest::DaemonAddress(), grpc::InsecureChannelCredentials());
  auto stub = containerd::services::version::v1::Version::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + lcdtest::Scaled(std::chrono::seconds(5)));
  google::protobuf::Empty req;
  containerd::services::version::v1::VersionResponse resp;
  grpc::Status s = stub->Version(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_FALSE(resp.version().empty());
  // `containerd --version` prints "containerd <pkg> <version> <revision>".
  std::string cli = RunCommand("containerd --version");
  EXPECT_NE(cli.find(resp.version()), std::string::npos) << cli << " vs " << resp.version();
}

TEST(GeneratedStubs, HealthCheckServes) {
  auto channel =
      grpc::CreateChannel("unix:" + lcdtest::DaemonAddress(), grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + lcdtest::Scaled(std::chrono::seconds(5)));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(stub->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}
