// One error model for hqp: recoverable errors (user input, files, unsupported models) travel as
// Status / Result<T>; programmer errors hit HQP_CHECK, which aborts with file:line.
// Message template: "cannot <verb> <object> '<name>': <what is wrong> (<param>=<value>, expected ...)".
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace hqp {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // malformed or inconsistent input (bad shape, bad attribute, wrong count)
  kNotFound,         // a file, value or dataset that does not exist
  kUnsupported,      // well-formed but outside what hqp implements (unknown op, opset)
  kParseError,       // bytes that do not decode (truncated file, wrong magic)
  kOutOfRange,       // sizes that overflow or exceed a limit
  kIoError,          // the OS refused a read or write
  kInternal,         // a bug in hqp surfaced as an error rather than an abort
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Prefixes context, e.g. the node being imported: "node 'conv1': <message>".
  Status with_context(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename... Args>
Status make_error(StatusCode code, fmt::format_string<Args...> format, Args&&... args) {
  return Status(code, fmt::format(format, std::forward<Args>(args)...));
}

// Result<T> holds a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(data_).ok()) {
      data_ = Status(StatusCode::kInternal, "Result constructed from an ok Status without a value");
    }
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(data_);
  }
  T& value() & { check_ok(); return std::get<T>(data_); }
  const T& value() const& { check_ok(); return std::get<T>(data_); }
  T&& value() && { check_ok(); return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void check_ok() const {
    if (!ok()) {
      std::fprintf(stderr, "hqp: fatal: value() of a failed Result: %s\n",
                   std::get<Status>(data_).message().c_str());
      std::abort();
    }
  }
  std::variant<T, Status> data_;
};

[[noreturn]] void check_failed(const char* file, int line, const char* condition, const std::string& message);

}  // namespace hqp

#define HQP_CONCAT_INNER(a, b) a##b
#define HQP_CONCAT(a, b) HQP_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` (a Status) is not ok.
#define HQP_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    ::hqp::Status hqp_status_ = (expr);           \
    if (!hqp_status_.ok()) return hqp_status_;    \
  } while (0)

// `HQP_ASSIGN_OR_RETURN(auto x, f());` — unwraps a Result or returns its Status.
#define HQP_ASSIGN_OR_RETURN(lhs, expr) \
  HQP_ASSIGN_OR_RETURN_IMPL(HQP_CONCAT(hqp_result_, __LINE__), lhs, expr)
#define HQP_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

// Always-on invariant check for programmer errors (never for user input).
#define HQP_CHECK(cond)                                                  \
  do {                                                                   \
    if (!(cond)) ::hqp::check_failed(__FILE__, __LINE__, #cond, "");     \
  } while (0)
#define HQP_CHECK_MSG(cond, msg)                                         \
  do {                                                                   \
    if (!(cond)) ::hqp::check_failed(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)
