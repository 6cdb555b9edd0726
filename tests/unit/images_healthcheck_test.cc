// Unit tests of the image config's HEALTHCHECK (config.Healthcheck) as ParseConfig decodes it.
#include <gtest/gtest.h>

#include "images/descriptor.h"
#include "libcontainerd/errors.h"

namespace libcontainerd::images {
namespace {

ConfigFile WithConfig(const std::string& config_json) {
  return ParseConfig(R"({"os":"linux","architecture":"amd64","config":)" + config_json + "}",
                     "config sha256:abc");
}

std::string MalformedMessage(const std::string& config_json) {
  try {
    WithConfig(config_json);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error for " << config_json;
  return "";
}

TEST(ImagesHealthcheck, AllFields) {
  ConfigFile f = WithConfig(R"({"Healthcheck":{"Test":["CMD-SHELL","curl -f localhost"],
      "Interval":5000000000,"Timeout":2000000000,"StartPeriod":1000000000,"Retries":4}})");
  ASSERT_TRUE(f.config.healthcheck.has_value());
  const HealthConfig& h = *f.config.healthcheck;
  EXPECT_EQ(h.test, (std::vector<std::string>{"CMD-SHELL", "curl -f localhost"}));
  EXPECT_EQ(h.interval, 5000000000);
  EXPECT_EQ(h.timeout, 2000000000);
  EXPECT_EQ(h.start_period, 1000000000);
  EXPECT_EQ(h.retries, 4);
}

TEST(ImagesHealthcheck, AbsentNullAndPartial) {
  EXPECT_FALSE(WithConfig(R"({"Cmd":["sh"]})").config.healthcheck.has_value());
  EXPECT_FALSE(WithConfig(R"({"Healthcheck":null})").config.healthcheck.has_value());
  // HEALTHCHECK NONE: only the test, durations left at 0 (the defaults apply).
  ConfigFile none = WithConfig(R"({"Healthcheck":{"Test":["NONE"]}})");
  ASSERT_TRUE(none.config.healthcheck.has_value());
  EXPECT_EQ(none.config.healthcheck->test, (std::vector<std::string>{"NONE"}));
  EXPECT_EQ(none.config.healthcheck->interval, 0);
  EXPECT_EQ(none.config.healthcheck->timeout, 0);
  EXPECT_EQ(none.config.healthcheck->start_period, 0);
  EXPECT_EQ(none.config.healthcheck->retries, 0);
  // An empty object is a health check that inherits everything.
  ConfigFile empty = WithConfig(R"({"Healthcheck":{}})");
  ASSERT_TRUE(empty.config.healthcheck.has_value());
  EXPECT_EQ(*empty.config.healthcheck, HealthConfig{});
}

TEST(ImagesHealthcheck, MalformedNamesTheField) {
  EXPECT_NE(
      MalformedMessage(R"({"Healthcheck":"CMD true"})").find("config.Healthcheck is not an object"),
      std::string::npos);
  EXPECT_NE(MalformedMessage(R"({"Healthcheck":{"Test":"true"}})")
                .find("config.Healthcheck.Test is not an array"),
            std::string::npos);
  EXPECT_NE(MalformedMessage(R"({"Healthcheck":{"Interval":"30s"}})")
                .find("config.Healthcheck.Interval is not an integer"),
            std::string::npos);
  EXPECT_NE(MalformedMessage(R"({"Healthcheck":{"Timeout":1.5}})")
                .find("config.Healthcheck.Timeout is not an integer"),
            std::string::npos);
  EXPECT_NE(MalformedMessage(R"({"Healthcheck":{"Retries":4294967296}})")
                .find("config.Healthcheck.Retries is out of range"),
            std::string::npos);
  EXPECT_NE(MalformedMessage(R"({"Healthcheck":{"StartPeriod":18446744073709551615}})")
                .find("config.Healthcheck.StartPeriod is out of range"),
            std::string::npos);
}

}  // namespace
}  // namespace libcontainerd::images
