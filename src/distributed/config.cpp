// DistConfig from flags and torchrun's environment variables.
#include "distributed/config.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace hqp::distributed {

namespace {

const char* system_getenv(const char* name) { return std::getenv(name); }

Result<int64_t> parse_int(std::string_view text, std::string_view what) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end) {
    return make_error(StatusCode::kInvalidArgument, "bad {} '{}' (expected an integer)", what, text);
  }
  return v;
}

}  // namespace

Result<DistConfig> resolve_dist_config(const DistFlags& flags, const char* (*getenv_fn)(const char*)) {
  if (getenv_fn == nullptr) getenv_fn = system_getenv;
  DistConfig c;
  auto env = [&](const char* name) -> std::optional<std::string> {
    const char* v = getenv_fn(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
  int64_t world = 1, rank = 0;
  if (flags.world_size) {
    world = *flags.world_size;
  } else if (auto v = env("WORLD_SIZE")) {
    HQP_ASSIGN_OR_RETURN(world, parse_int(*v, "WORLD_SIZE"));
  }
  if (flags.rank) {
    rank = *flags.rank;
  } else if (auto v = env("RANK")) {
    HQP_ASSIGN_OR_RETURN(rank, parse_int(*v, "RANK"));
  }
  if (world < 1 || world > 4096) {
    return make_error(StatusCode::kInvalidArgument, "bad world size {} (--world-size / WORLD_SIZE, expected 1..4096)",
                      world);
  }
  if (rank < 0 || rank >= world) {
    return make_error(StatusCode::kInvalidArgument, "bad rank {} for world size {} (--rank / RANK, expected 0..{})",
                      rank, world, world - 1);
  }
  c.world_size = static_cast<int>(world);
  c.rank = static_cast<int>(rank);
  if (auto v = env("MASTER_ADDR")) c.master_addr = *v;
  int64_t port = c.master_port;
  if (auto v = env("MASTER_PORT")) {
    HQP_ASSIGN_OR_RETURN(port, parse_int(*v, "MASTER_PORT"));
  }
  if (flags.master) {
    const std::string& m = *flags.master;
    const size_t colon = m.rfind(':');
    if (colon == std::string::npos) {
      c.master_addr = m;
    } else {
      c.master_addr = m.substr(0, colon);
      HQP_ASSIGN_OR_RETURN(port, parse_int(std::string_view(m).substr(colon + 1), "port in --master"));
    }
    if (c.master_addr.empty()) {
      return make_error(StatusCode::kInvalidArgument, "bad --master '{}' (expected ADDR:PORT)", m);
    }
  }
  if (port < 1 || port > 65535) {
    return make_error(StatusCode::kInvalidArgument, "bad master port {} (--master / MASTER_PORT, expected 1..65535)",
                      port);
  }
  c.master_port = static_cast<int>(port);
  if (flags.timeout_s) c.timeout_s = *flags.timeout_s;
  if (!(c.timeout_s > 0.0) || c.timeout_s > 86400.0) {
    return make_error(StatusCode::kInvalidArgument, "bad --timeout {} (expected seconds in (0, 86400])", c.timeout_s);
  }
  c.sync_bn = flags.sync_bn;
  if (flags.bucket_mb) c.bucket_mb = *flags.bucket_mb;
  if (!(c.bucket_mb > 0.0) || c.bucket_mb > 1024.0) {
    return make_error(StatusCode::kInvalidArgument, "bad --bucket-mb {} (expected MiB in (0, 1024])", c.bucket_mb);
  }
  return c;
}

}  // namespace hqp::distributed
