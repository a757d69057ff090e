// ValSplit text form: parsing with the project's error template, and printing.
#include "data/val_split.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace hqp::data {

namespace {

constexpr std::string_view kRandomPrefix = "random:";
constexpr std::string_view kTailPrefix = "tail:";
constexpr std::string_view kAutoWord = "auto";
constexpr const char* kExpectedForms = "random:N[:SEED], random:auto, tail:N or a dataset folder";

template <typename T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

Status bad(std::string_view text, std::string_view problem, std::string_view param, std::string_view value,
           std::string_view expected) {
  return make_error(StatusCode::kInvalidArgument, "cannot parse val split '{}': {} ({}={}, expected {})", text, problem,
                    param, value, expected);
}

}  // namespace

Result<ValSplit> parse_val_split(std::string_view text) {
  if (text.empty()) return bad(text, "it is empty", "spec", "''", kExpectedForms);
  if (text.starts_with(kTailPrefix)) {
    const std::string_view n = text.substr(kTailPrefix.size());
    int64_t size = 0;
    if (!parse_number(n, size) || size < 0) {
      return bad(text, "the size is not a non-negative integer", "N", fmt::format("'{}'", n), "tail:N with N >= 0");
    }
    return ValSplit::tail(size);
  }
  if (text.starts_with(kRandomPrefix)) {
    std::string_view rest = text.substr(kRandomPrefix.size());
    const size_t colon = rest.find(':');
    const std::string_view n = rest.substr(0, colon);
    ValSplit split = ValSplit::random(kAutoValSize);
    if (n != kAutoWord && (!parse_number(n, split.size) || split.size < 0)) {
      return bad(text, "the size is not a non-negative integer or 'auto'", "N", fmt::format("'{}'", n),
                 "random:N[:SEED] with N >= 0, or random:auto");
    }
    if (colon != std::string_view::npos) {
      const std::string_view seed = rest.substr(colon + 1);
      if (!parse_number(seed, split.seed)) {
        return bad(text, "the seed is not an unsigned integer", "SEED", fmt::format("'{}'", seed),
                   "random:N:SEED with SEED >= 0");
      }
    }
    return split;
  }
  return ValSplit::from_folder(std::string(text));
}

std::string val_split_to_string(const ValSplit& split) {
  switch (split.kind) {
    case ValSplitKind::kRandom: {
      std::string s = split.size == kAutoValSize ? std::string("random:auto") : fmt::format("random:{}", split.size);
      if (split.seed != 0) s += fmt::format(":{}", split.seed);
      return s;
    }
    case ValSplitKind::kTail:
      return fmt::format("tail:{}", split.size);
    case ValSplitKind::kFolder:
      return split.folder;
  }
  return {};
}

int64_t auto_val_size(int64_t n) { return std::min<int64_t>(kMaxAutoValSize, n / 10); }

}  // namespace hqp::data
