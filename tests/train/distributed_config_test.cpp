// distributed::resolve_dist_config: flags over torchrun's environment over defaults, and the
// errors that name the variable or flag at fault. (The process group itself is exercised end to
// end by tests/cli/cli_distributed_test.cpp, with real processes on loopback.)
#include "distributed/config.h"

#include <map>
#include <string>

#include <gtest/gtest.h>

namespace hqp::distributed {
namespace {

std::map<std::string, std::string> g_env;
const char* fake_getenv(const char* name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}

TEST(DistConfig, DefaultsToOneProcess) {
  g_env.clear();
  auto c = resolve_dist_config({}, fake_getenv);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->world_size, 1);
  EXPECT_EQ(c->rank, 0);
  EXPECT_FALSE(c->distributed());
  EXPECT_TRUE(c->is_writer());
}

TEST(DistConfig, EnvironmentAsTorchrunSetsIt) {
  g_env = {{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"MASTER_ADDR", "10.0.0.7"}, {"MASTER_PORT", "29611"}};
  auto c = resolve_dist_config({}, fake_getenv);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->world_size, 4);
  EXPECT_EQ(c->rank, 3);
  EXPECT_EQ(c->master_addr, "10.0.0.7");
  EXPECT_EQ(c->master_port, 29611);
  EXPECT_FALSE(c->is_writer());
  // Flags win over the environment.
  DistFlags f;
  f.rank = 1;
  f.master = "host:1234";
  f.timeout_s = 5.0;
  c = resolve_dist_config(f, fake_getenv);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->rank, 1);
  EXPECT_EQ(c->master_addr, "host");
  EXPECT_EQ(c->master_port, 1234);
  EXPECT_DOUBLE_EQ(c->timeout_s, 5.0);
}

TEST(DistConfig, ErrorsNameTheCulprit) {
  auto message = [](const DistFlags& f) {
    auto c = resolve_dist_config(f, fake_getenv);
    EXPECT_FALSE(c.ok());
    return c.ok() ? std::string() : c.status().message();
  };
  g_env = {{"WORLD_SIZE", "two"}};
  EXPECT_NE(message({}).find("bad WORLD_SIZE 'two'"), std::string::npos);
  g_env = {{"WORLD_SIZE", "2"}, {"RANK", "2"}};
  EXPECT_NE(message({}).find("bad rank 2 for world size 2"), std::string::npos);
  g_env = {{"MASTER_PORT", "70000"}};
  EXPECT_NE(message({}).find("bad master port 70000"), std::string::npos);
  g_env.clear();
  DistFlags f;
  f.master = ":29500";
  EXPECT_NE(message(f).find("bad --master ':29500'"), std::string::npos);
  f = {};
  f.timeout_s = 0.0;
  EXPECT_NE(message(f).find("bad --timeout"), std::string::npos);
  f = {};
  f.bucket_mb = 0.0;
  EXPECT_NE(message(f).find("bad --bucket-mb"), std::string::npos);
}

}  // namespace
}  // namespace hqp::distributed
