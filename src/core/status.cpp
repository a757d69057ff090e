// Status helpers and the abort path of HQP_CHECK.
#include "core/status.h"

namespace hqp {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kParseError: return "parse error";
    case StatusCode::kOutOfRange: return "out of range";
    case StatusCode::kIoError: return "i/o error";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

void check_failed(const char* file, int line, const char* condition, const std::string& message) {
  std::fprintf(stderr, "hqp: internal check failed at %s:%d: %s%s%s\n", file, line, condition,
               message.empty() ? "" : " — ", message.c_str());
  std::abort();
}

}  // namespace hqp
