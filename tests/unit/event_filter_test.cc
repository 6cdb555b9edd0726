// The subscription's topic filter (issue 20): exactly the topics the decoder decodes, so
// containerd sends no event the reader would skip, and none it decodes is filtered out.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "remote/event_decode.h"

using libcontainerd::remote::DecodedTopicsRegex;
using libcontainerd::remote::DecodeEnvelope;

TEST(EventFilter, TheRegexNamesTheEightDecodedTaskTopicsAndNothingElse) {
  EXPECT_EQ(DecodedTopicsRegex(),
            "^/tasks/(create|start|exit|oom|exec-added|exec-started|paused|resumed)$");
  // No `"`: the filter delimits the regex with it.
  EXPECT_EQ(DecodedTopicsRegex().find('"'), std::string::npos);
}

// Every topic containerd publishes about tasks and containers: the regex matches a topic iff
// DecodeEnvelope decodes it (a payload of the wrong type throws for a decoded topic; an
// undecoded topic gives nullopt without looking at the payload).
TEST(EventFilter, TheRegexMatchesATopicIffTheDecoderDecodesIt) {
  const std::regex re(DecodedTopicsRegex());
  const ::containerd::events::TaskDelete wrong;  // no decoded topic has this payload
  std::string bytes;
  ASSERT_TRUE(wrong.SerializeToString(&bytes));
  int matched = 0;
  for (const char* topic :
       {"/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/oom", "/tasks/exec-added",
        "/tasks/exec-started", "/tasks/paused", "/tasks/resumed", "/tasks/delete",
        "/tasks/checkpointed", "/tasks/io", "/containers/create", "/containers/delete",
        "/snapshot/remove", "/tasks/exit2", "/x/tasks/exit", "/tasks/", "/tasks/create/x"}) {
    bool decoded = false;
    try {
      decoded = DecodeEnvelope(topic, wrong.GetTypeName(), bytes).has_value();
    } catch (const std::exception&) {
      decoded = true;  // a decoded topic: the payload was looked at and refused
    }
    const bool match = std::regex_search(std::string(topic), re);
    EXPECT_EQ(match, decoded) << topic;
    matched += match;
  }
  EXPECT_EQ(matched, 8);
}
